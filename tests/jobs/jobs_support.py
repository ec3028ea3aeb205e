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
import yaml
from polars.testing import assert_frame_equal

from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import init_demo
from asemic_core.project import Project
from asemic_core.query.kpi import KpiRequest
from asemic_core.storage.schema import daily_columns
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


EDITED = "days_active_last_28_days"  # the property a partial update recomputes (its window edited)


def edit_property(root: Path) -> None:
    """Shrink EDITED's window to 14 days: its column goes stale."""
    from asemic_core.config.writer import save_property

    save_property(root, EDITED, {"data_type": "INTEGER", "sliding_window_property": {
        "source_property": "dau_active", "window_function": "sum", "relative_days_from": -13, "relative_days_to": 0}})


def property_definition(root: Path, prop: str) -> dict:
    """The definition of property ``prop`` as its YAML file under userentity/properties holds it."""
    for path in (root / "userentity" / "properties").glob("*.yml"):
        found = (yaml.safe_load(path.read_text()) or {}).get("properties", {}).get(prop)
        if found is not None:
            return found
    raise KeyError(prop)


def change_property(root: Path, prop: str, change: dict[str, dict]) -> None:
    """Save ``prop`` with the fields of ``change`` ({kind: fields}, kind as "event_property")
    updated in its definition."""
    from asemic_core.config.writer import save_property

    definition = property_definition(root, prop)
    for kind, fields in change.items():
        definition[kind].update(fields)
    save_property(root, prop, definition)


def edit_activity_property(root: Path) -> None:
    """Count ACTIVITY_EDITED's purchases twice: a partial update writes it into a column
    table (nothing else reads it)."""
    change_property(root, ACTIVITY_EDITED, {"event_property": {"select": "2", "aggregate_function": "sum"}})


ACTIVITY_EDITED = "purchases_on_day"


def job_args(kind: str, rewind: tuple[dt.date, dt.date] | None = None) -> list[str]:
    if kind == "partial":
        return ["model", "update", "--property", EDITED]
    if kind == "partial-activity":
        return ["model", "update", "--property", ACTIVITY_EDITED]
    if kind == "restore":
        return ["model", "restore", "1"]
    if kind == "rewind":
        assert rewind is not None
        return ["model", "rewind", "--from", rewind[0].isoformat(), "--to", rewind[1].isoformat()]
    return ["model", kind]


def run_job_in_process(project: Project, kind: str, rewind: tuple[dt.date, dt.date] | None = None):
    if kind == "refresh":
        return project.refresh(origin="test")
    if kind == "update":
        return project.update(origin="test")
    if kind == "partial":
        return project.update(properties=[EDITED], origin="test")
    if kind == "partial-activity":
        return project.update(properties=[ACTIVITY_EDITED], origin="test")
    if kind == "compact":
        return project.compact(origin="test")
    if kind == "restore":
        return project.restore(1, origin="test")
    return project.rewind(*rewind, origin="test")


def wait_for(predicate, timeout: float = 60, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)


# ----------------------------------------------------------------------- the model's files


def table_frame(root: Path, table: str = DAILY, version: int | None = None) -> pl.DataFrame:
    """A table of the published model version (or of model version ``version``), read from
    the files of its pinned table version (the daily table with the values of its column
    tables), sorted by (entity_id, date)."""
    from asemic_core.backend.duckdb_executor import DuckDBExecutor

    store = Project(root).model_store()
    model = store.state.version(version) if version is not None else store.current()
    snapshot = store.snapshot(table, model)
    assert snapshot is not None and snapshot.files, f"no {table} table in model version {model}"
    with duckdb.connect() as con:  # not the physical partition columns
        frame = con.sql(DuckDBExecutor(con).relation(snapshot).sql("duckdb")).pl()
    return frame.sort([c for c in ("entity_id", "date") if c in frame.columns])


def partitions(root: Path, table: str = DAILY, version: int | None = None) -> dict[str, pl.DataFrame]:
    """The published daily table as one frame per day (the users table: {"all": frame})."""
    frame = table_frame(root, table, version)
    if table != DAILY:
        return {"all": frame}
    return {day.isoformat(): part.sort(["entity_id", "date"])
            for (day,), part in frame.partition_by("date", as_dict=True, maintain_order=True).items()}


def column_values(project: Project) -> dict[str, pl.DataFrame]:
    """Every daily column's property values (one source for all), sorted by (entity_id, date)."""
    source = project.source()
    try:
        return {c: project.property_values(c, source=source).sort(["entity_id", "date"])
                for c in daily_columns(project.resolved())}
    finally:
        source.close()


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
    """Data files on disk that no table version references (what a killed writer leaves)."""
    from asemic_core.backend.delta_store import _ever_added

    tables = Project(root).model_store().tables.root
    out: list[str] = []
    for table_dir in (p for p in tables.iterdir() if p.is_dir()) if tables.exists() else []:
        known = _ever_added(table_dir)
        out += [str(p) for p in table_dir.rglob("*.parquet") if "_delta_log" not in p.parts and str(p) not in known]
    return sorted(out)


def check_readable(root: Path) -> None:
    """The model answers queries: a KPI over every day, property values, every file of the
    published version."""
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
        assert table_frame(root, table).height > 0


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
