"""The job log: every job with its arguments, origin, status, progress and timings."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass

from asemic_core.storage.state import StateStore, now

STATUSES = ("queued", "running", "succeeded", "failed", "interrupted")


@dataclass
class JobRecord:
    id: str
    kind: str
    args: dict
    config_hash: str
    origin: str
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    progress: float
    message: str | None
    error: str | None
    pid: int | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or now()) - self.started_at

    def to_dict(self) -> dict:
        return {**self.__dict__, "duration": self.duration}


def new_job_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}"


class JobLog:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    def create(self, kind: str, args: dict, config_hash: str, origin: str, status: str = "queued",
               pid: int | None = None) -> str:
        """Queue a job; ``pid`` is the process that will run it (default: this one)."""
        job_id = new_job_id(kind)
        with self.state.transaction() as con:
            con.execute("INSERT INTO jobs(id, kind, args, config_hash, origin, status, created_at, pid) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (job_id, kind, json.dumps(args, default=str), config_hash, origin, status, now(),
                         os.getpid() if pid is None else pid))
        return job_id

    def set_pid(self, job_id: str, pid: int) -> None:
        with self.state.transaction() as con:
            con.execute("UPDATE jobs SET pid = ? WHERE id = ?", (pid, job_id))

    def start(self, job_id: str) -> None:
        with self.state.transaction() as con:
            con.execute("UPDATE jobs SET status = 'running', started_at = ?, pid = ? WHERE id = ?",
                        (now(), os.getpid(), job_id))

    def progress(self, job_id: str, fraction: float, message: str | None = None) -> None:
        """Record how far the job got; the fraction never goes back (readers poll it). Not
        waited for on disk: a progress note is not worth a flush of the job's files."""
        with self.state.transaction(durable=False) as con:
            con.execute("UPDATE jobs SET progress = MAX(COALESCE(progress, 0), ?), message = COALESCE(?, message) "
                        "WHERE id = ?",
                        (max(0.0, min(1.0, fraction)), message, job_id))

    def finish(self, job_id: str, status: str, error: str | None = None, message: str | None = None) -> None:
        assert status in STATUSES
        with self.state.transaction() as con:
            con.execute("UPDATE jobs SET status = ?, finished_at = ?, error = ?, message = COALESCE(?, message), "
                        "progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END WHERE id = ?",
                        (status, now(), error, message, status, job_id))

    def add_phase(self, con, job_id: str, phase: str, seconds: float) -> None:
        con.execute("INSERT OR REPLACE INTO job_phases(job_id, phase, seconds) VALUES (?, ?, ?)", (job_id, phase, seconds))

    def add_day(self, con, job_id: str, day: str, rows: int, seconds: float) -> None:
        con.execute("INSERT OR REPLACE INTO job_days(job_id, day, rows, seconds) VALUES (?, ?, ?, ?)",
                    (job_id, day, rows, seconds))

    def get(self, job_id: str) -> JobRecord | None:
        with self.state.reading() as con:
            row = con.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def list(self, limit: int = 50) -> list[JobRecord]:
        with self.state.reading() as con:
            rows = con.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        return [_record(r) for r in rows]

    def days(self, job_id: str) -> list[tuple[str, int, float]]:
        with self.state.reading() as con:
            return con.execute("SELECT day, rows, seconds FROM job_days WHERE job_id = ? ORDER BY day", (job_id,)).fetchall()

    def phases(self, job_id: str) -> list[tuple[str, float]]:
        with self.state.reading() as con:
            return con.execute("SELECT phase, seconds FROM job_phases WHERE job_id = ?", (job_id,)).fetchall()

    def mark_interrupted(self, lock_holder, queued_timeout: float = 300.0) -> list[str]:
        """Jobs whose process is gone are interrupted.

        A running job holds the writer lock for its whole run, so a 'running' job that is
        not the lock's holder has died (its pid alone could belong to another process
        after a reboot). A queued job died when its process is gone, or when it never
        started within ``queued_timeout`` seconds.
        """
        with self.state.reading() as con:
            rows = con.execute("SELECT id, pid, status, created_at FROM jobs WHERE status IN ('running', 'queued')").fetchall()
        # Ask who holds the lock only after reading the rows: a job that starts in between is
        # not among them, and every running job read above holds the lock while it lives.
        if callable(lock_holder):
            lock_holder = lock_holder()
        gone = [job_id for job_id, pid, status, created in rows if job_id != lock_holder and (
            status == "running"
            or (pid is not None and not _alive(pid))
            or now() - created > queued_timeout)]
        if not gone:
            return []
        with self.state.transaction() as con:
            for job_id in gone:
                con.execute("UPDATE jobs SET status = 'interrupted', finished_at = ?, "
                            "error = COALESCE(error, 'the job process stopped before finishing') "
                            "WHERE id = ? AND status IN ('running', 'queued')", (now(), job_id))
        return gone


_COLUMNS = "id, kind, args, config_hash, origin, status, created_at, started_at, finished_at, progress, message, error, pid"


def _record(row) -> JobRecord:
    data = list(row)
    data[2] = json.loads(data[2])
    return JobRecord(*data)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
