"""One writer at a time: an exclusive lock on a file in the model directory.

The operating system releases the lock when its process dies (even by SIGKILL), so a
lock left by a killed job never needs manual cleanup.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from asemic_core.errors import JobError


class WriterLock:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def holder(self) -> str | None:
        """The job id written by the current holder, if the lock is held (creates no file:
        a writer creates the file before it takes the lock)."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def acquire(self, job_id: str, wait: bool = False, patience: float = 1.0) -> None:
        """Take the lock, or refuse naming the running job.

        ``holder()`` probes by taking the lock for an instant; retrying for ``patience``
        seconds keeps such a probe from refusing a job when no job runs.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                if holder or time.monotonic() > deadline:  # a job's id is written: a job runs
                    os.close(fd)
                    raise JobError(f"another job is running ({holder or 'unknown'}); wait for it to finish "
                                   "(it is listed with the jobs)") from None
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.pwrite(fd, job_id.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()
