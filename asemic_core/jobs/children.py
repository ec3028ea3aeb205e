"""Job processes this process started (the app's launches), kept until they exit.

A detached job outlives the page that asked for it, but not being waited for it would
linger as a zombie (which the job log would count as alive) and its handle would warn
when dropped. Handles live here, process-wide, and every poll reaps the ones that ended.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

_lock = threading.Lock()
_running: dict[int, subprocess.Popen] = {}
_exited: dict[int, int] = {}


def keep(process: subprocess.Popen) -> int:
    with _lock:
        _running[process.pid] = process
    return process.pid


def reap() -> None:
    with _lock:
        for pid, process in list(_running.items()):
            code = process.poll()
            if code is not None:
                _exited[pid] = code
                del _running[pid]


def exit_code(pid: int) -> int | None:
    """None while the process runs (or was not started here); its exit status once it ended."""
    reap()
    with _lock:
        return _exited.get(pid)


def running() -> list[int]:
    reap()
    with _lock:
        return list(_running)


def launch_output(log_dir: Path, since: float, limit: int = 600) -> str | None:
    """The end of the newest launcher log written after ``since`` (what a job process that
    died before it reached the job log printed)."""
    logs = [p for p in log_dir.glob("*.log") if p.stat().st_mtime >= since - 1] if log_dir.is_dir() else []
    if not logs:
        return None
    text = max(logs, key=lambda p: p.stat().st_mtime).read_text(errors="replace").strip()
    return text[-limit:] or None
