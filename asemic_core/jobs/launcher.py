"""Starting a job in its own process, so it outlives the page (or terminal) that asked.

The job log is the channel back: the launched process records its progress there, and
any reader (the app's Jobs page) polls it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from asemic_core.errors import JobError


def job_command(project_root: Path, kind: str, args: dict, origin: str = "app", job_id: str | None = None) -> list[str]:
    command = [sys.executable, "-m", "asemic_core.cli", "--project", str(project_root), "--origin", origin]
    if job_id:
        command += ["--job-id", job_id]
    command += ["model", kind]
    for kpi in args.get("kpis", []):
        command += ["--kpi", kpi]
    for prop in args.get("properties", []):
        command += ["--property", prop]
    if kind == "rewind":
        command += ["--from", str(args["from"]), "--to", str(args["to"])]
    if kind == "restore":
        command += [str(int(args["version"]))]
    if kind == "vacuum" and "keep_days" in args:
        command += ["--keep-days", str(float(args["keep_days"]))]
    return command


def launch_job(project, kind: str, args: dict | None = None, origin: str = "app") -> subprocess.Popen:
    """Start ``kind`` detached; refuse at once when another job holds the writer lock.

    The job is queued in the log before its process starts; the returned process carries
    its id as ``process.job_id`` and its output file as ``process.log_path``.
    """
    from asemic_core.jobs.service import config_hash

    store = project.model_store()
    holder = store.lock.holder()
    if holder:
        raise JobError(f"another job is running ({holder}); wait for it to finish")
    job_id = store.jobs.create(kind, args or {}, config_hash(project), origin, status="queued")
    log_dir = store.root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{job_id}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        job_command(project.root, kind, args or {}, origin, job_id), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=str(project.root),
    )
    log.close()
    store.jobs.set_pid(job_id, process.pid)
    process.job_id = job_id
    process.log_path = log_path
    return process
