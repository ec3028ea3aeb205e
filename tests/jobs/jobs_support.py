"""Shared helpers of the job tests (crash safety, concurrency, CLI): demo projects,
warehouse edits, subprocess jobs, and the model's partitions as frames."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import init_demo
from asemic_core.project import Project
from asemic_core.query.kpi import KpiRequest
from asemic_core.storage.store import DAILY, USERS

REPO = Path(__file__).resolve().parents[2]
DEMO_START = DemoSpec().start_date
WAREHOUSE = "warehouse.duckdb"
DEMO_TABLES = ("registrations", "sessions", "purchases", "ad_views", "level_completions")


def day(offset: int) -> dt.date:
    """The demo's day ``offset`` (0 = its first day)."""
    return DEMO_START + dt.timedelta(days=offset)


def make_demo(root: Path, users: int = 3000, days: int = 60, seed: int = 7) -> Path:
    init_demo(root, DemoSpec(users=users, days=days, seed=seed))
    return root


def copy_project(source: Path, target: Path) -> Path:
    """A copy of a project directory, model included (no job may run in ``source``); its
    catalog is rewritten, so that its views list the copy's files."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.tmp", "tmp"))
    project = Project(target)
    if (project.model_dir() / "catalog.duckdb").exists():
        project.write_catalog()
    return target


def truncate_warehouse(root: Path, last_day: dt.date) -> None:
    """Drop every event after ``last_day``: the warehouse as it was on that day."""
    with duckdb.connect(str(root / WAREHOUSE)) as con:
        for table in DEMO_TABLES:
            con.execute(f"DELETE FROM game.{table} WHERE event_date > ?", [last_day])


def change_warehouse(root: Path, first: dt.date, last: dt.date) -> None:
    """Change events inside first..last only: drop a quarter of the sessions, double the
    purchase amounts, drop some ad views."""
    with duckdb.connect(str(root / WAREHOUSE)) as con:
        con.execute("DELETE FROM game.sessions WHERE event_date BETWEEN ? AND ? AND hash(user_id, event_ts) % 4 = 0",
                    [first, last])
        con.execute("UPDATE game.purchases SET amount_usd = amount_usd * 2 WHERE event_date BETWEEN ? AND ?",
                    [first, last])
        con.execute("DELETE FROM game.ad_views WHERE event_date BETWEEN ? AND ? AND hash(user_id, event_ts) % 3 = 0",
                    [first, last])


def cli_command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "asemic_core.cli", "--project", str(root), *args]


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [out.get("PYTHONPATH")])])
    return out


def start_cli(root: Path, *args: str, log: Path | None = None) -> subprocess.Popen:
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    try:
        return subprocess.Popen(cli_command(root, *args), stdout=output, stderr=subprocess.STDOUT, env=env(),
                                cwd=REPO)
    finally:
        if log:
            output.close()


def run_cli(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cli_command(root, *args), capture_output=True, text=True, env=env(), cwd=REPO,
                          timeout=timeout)


def job_args(kind: str, rewind: tuple[dt.date, dt.date] | None = None) -> list[str]:
    if kind == "rewind":
        assert rewind is not None
        return ["model", "rewind", "--from", rewind[0].isoformat(), "--to", rewind[1].isoformat()]
    return ["model", kind]


def run_job_in_process(project: Project, kind: str, rewind: tuple[dt.date, dt.date] | None = None):
    if kind == "refresh":
        return project.refresh(origin="test")
    if kind == "update":
        return project.update(origin="test")
    return project.rewind(*rewind, origin="test")


def wait_for(predicate, timeout: float = 60, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)


# ----------------------------------------------------------------------- the model's files


def registered(root: Path, table: str = DAILY) -> dict[str, Path]:
    """Day -> directory of the partition the state store registers (a consistent snapshot)."""
    store = Project(root).model_store()
    parts, _ = store.snapshot(table)
    return {p.day: store.root / p.path for p in parts}


def read_partition(directory: Path) -> pl.DataFrame:
    files = sorted(directory.glob("*.parquet"))
    assert files, f"partition {directory} has no file"
    frame = pl.concat([pl.read_parquet(f) for f in files], how="vertical")
    return frame.sort([c for c in ("entity_id", "date") if c in frame.columns])


def partitions(root: Path, table: str = DAILY) -> dict[str, pl.DataFrame]:
    """Every registered partition of ``table`` as a frame sorted by (entity_id, date)."""
    return {key: read_partition(path) for key, path in registered(root, table).items()}


def same(left: pl.DataFrame, right: pl.DataFrame, exact: bool = False) -> bool:
    """Equal frames; NUMBER values within a relative 1e-9 unless ``exact``."""
    try:
        assert_frame_equal(left, right, check_column_order=False, check_exact=exact, rel_tol=1e-9, abs_tol=1e-12)
    except AssertionError:
        return False
    return True


def differing_days(actual: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> list[str]:
    days = sorted(set(actual) | set(expected))
    return [d for d in days if d not in actual or d not in expected or not same(actual[d], expected[d])]


def unregistered_files(root: Path) -> list[str]:
    """Partition directories on disk that no registered partition points to."""
    store = Project(root).model_store()
    known = set()
    for table in (DAILY, USERS):
        known |= {str(p) for p in registered(root, table).values()}
    tables = store.tables_dir
    on_disk = {str(p) for p in tables.glob("*/*/*")} if tables.exists() else set()
    return sorted(on_disk - known)


def check_readable(root: Path) -> None:
    """The model answers queries: a KPI over every day, property values, every registered file."""
    project = Project(root)
    status = project.status()
    first, last = dt.date.fromisoformat(status.first_day), dt.date.fromisoformat(status.watermark)
    source = project.source()
    try:
        result = project.kpi_query(KpiRequest("dau", first, last), source=source)
        assert result.points.height == (last - first).days + 1
        for prop in ("dau_active", "lifetime_revenue", "mau_active"):
            frame = project.property_values(prop, source=source)
            assert frame.height == status.rows
    finally:
        source.close()
    for table in (DAILY, USERS):
        for path in registered(root, table).values():
            read_partition(path)


# ------------------------------------------------------------- jobs with a hook inside them

HOOKED = """
import os, signal, sys, time, importlib
module = importlib.import_module({module!r})
owner = getattr(module, {owner!r}) if {owner!r} else module
original = getattr(owner, {name!r})
calls = [0]

def act():
    if {gate!r}:
        open({gate!r} + ".reached", "w").close()
        while not os.path.exists({gate!r}):
            time.sleep(0.01)
    else:
        os.kill(os.getpid(), signal.SIGKILL)

def wrapper(*args, **kwargs):
    calls[0] += 1
    if {when!r} == "before" and calls[0] == {nth}:
        act()
    result = original(*args, **kwargs)
    if {when!r} == "after" and calls[0] == {nth}:
        act()
    return result

raw = vars(owner).get({name!r}) if isinstance(owner, type) else None
setattr(owner, {name!r}, staticmethod(wrapper) if isinstance(raw, staticmethod) else wrapper)
from asemic_core.cli import main
sys.exit(main({argv!r}))
"""


def hooked_command(argv: list[str], point: tuple, gate: Path | None = None) -> list[str]:
    """A CLI run whose function ``point`` = (module, class or None, name, "before"|"after", nth call)
    SIGKILLs its own process there, or, with ``gate``, touches ``<gate>.reached`` and waits
    until the file ``gate`` exists."""
    module, owner, name, when, nth = point[:5]
    code = HOOKED.format(module=module, owner=owner, name=name, when=when, nth=nth, argv=argv,
                         gate=str(gate) if gate else "")
    return [sys.executable, "-c", code]


def start_hooked(root: Path, args: list[str], point: tuple, gate: Path | None = None,
                 log: Path | None = None) -> subprocess.Popen:
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(hooked_command(["--project", str(root), *args], point, gate), env=env(), cwd=REPO,
                                stdout=output, stderr=subprocess.STDOUT)
    finally:
        if log:
            output.close()
