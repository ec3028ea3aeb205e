"""Starting a job in its own process, so it outlives the page (or terminal) that asked.

The job log is the channel back: the launched process records its progress there, and
any reader (the app's Jobs page) polls it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from asemic_core.errors import JobError


def job_command(project_root: Path, kind: str, args: dict, origin: str = "app") -> list[str]:
    command = [sys.executable, "-m", "asemic_core.cli", "--project", str(project_root), "--origin", origin, "model", kind]
    for kpi in args.get("kpis", []):
        command += ["--kpi", kpi]
    for prop in args.get("properties", []):
        command += ["--property", prop]
    if kind == "rewind":
        command += ["--from", str(args["from"]), "--to", str(args["to"])]
    return command


def launch_job(project, kind: str, args: dict | None = None, origin: str = "app") -> subprocess.Popen:
    """Start ``kind`` detached; refuse at once when another job holds the writer lock."""
    store = project.model_store()
    holder = store.lock.holder()
    if holder:
        raise JobError(f"another job is running ({holder}); wait for it to finish")
    log_dir = store.root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{kind}-{int(time.time() * 1000)}.log", "wb")  # noqa: SIM115 - handed to the child
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        job_command(project.root, kind, args or {}, origin), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=str(project.root),
    )
    log.close()
    return process
