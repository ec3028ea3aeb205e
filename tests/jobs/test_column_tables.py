"""Column tables (Engine v2, item 4): a partial update of activity columns writes those
columns alone, into a table of their own; every later job keeps the model equal to a fresh
refresh of the same config and events (SEMANTICS 8), and versions, restore and vacuum
treat the column tables as part of the model version that names them.

Each expectation is a fresh project (config and warehouse copied, refreshed) read through
the same API, or a count of stored files and rows."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import duckdb
import pytest
from jobs_support import (WAREHOUSE, change_property, change_warehouse, column_values, day, edit_property,
                          make_demo, run_cli, same, truncate_warehouse)

from asemic_core.config.writer import save_property
from asemic_core.jobs import partial_active
from asemic_core.jobs.scheduler import Scheduler
from asemic_core.project import Project
from asemic_core.storage.store import DAILY

LAST = 39  # the demo's days: 0 .. LAST


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    """A demo refreshed through day LAST - 4, and its warehouse of every day (to update from)."""
    base = tmp_path_factory.mktemp("column-tables")
    root = make_demo(base / "demo", users=300, days=LAST + 1)
    full = base / "full.duckdb"
    shutil.copy(root / WAREHOUSE, full)
    truncate_warehouse(root, day(LAST - 4))
    # a second activity column nothing else reads (as purchases_on_day): its edits leave no column stale
    save_property(root, "sessions_on_day", {"data_type": "INTEGER", "event_property": {
        "source_event": "entity_activity", "select": "1", "aggregate_function": "count", "default_value": 0}})
    Project(root).refresh(origin="test")
    return root, full


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _tables(project: Project) -> dict[str, tuple[str, ...]]:
    """The published version's column tables and the columns each holds."""
    snapshot = project.model_store(readonly=True).snapshot(DAILY)
    return {o.snapshot.name: o.columns for o in snapshot.overrides}


def _days(project: Project, table: str) -> set[dt.date]:
    snapshot = project.model_store(readonly=True).snapshot(DAILY)
    return {f.day for o in snapshot.overrides if o.snapshot.name == table for f in o.snapshot.files}


def _assert_as_fresh(project: Project, tmp_path: Path, name: str) -> None:
    fresh = Project(_copy_config(project.root, tmp_path / name))
    fresh.refresh(origin="test")
    got, want = column_values(project), column_values(fresh)
    assert set(got) == set(want)
    for column in want:
        assert same(got[column], want[column]), column
    assert project.status().watermark == fresh.status().watermark


def _partially_updated(root: Path, tmp_path: Path, *props: str) -> Project:
    """A copy of ``root`` where each activity column of ``props`` counts its events twice
    (``select: 2``, summed), each recomputed by a partial update of its own."""
    project = Project(_copy(root, tmp_path / "edited"))
    for prop in props:
        change_property(project.root, prop, {"event_property": {"select": "2", "aggregate_function": "sum"}})
        project.update(properties=[prop], origin="test")
    return project


def _copy_config(root: Path, target: Path) -> Path:
    shutil.copytree(root, target, ignore=shutil.ignore_patterns(".asemic"))
    return target


def test_every_job_after_a_column_table_keeps_the_values_a_refresh_gives(demo, tmp_path) -> None:
    root, full = demo
    project = _partially_updated(root, tmp_path, "purchases_on_day", "sessions_on_day")
    first = _tables(project)
    assert sorted(first.values()) == [("purchases_on_day",), ("sessions_on_day",)]
    assert {c.name: c.state for c in project.status().columns if c.state != "fresh"} == {}
    _assert_as_fresh(project, tmp_path, "two-tables")

    # the same column edited again: a new table holds it, the old one is no longer the model's
    change_property(project.root, "purchases_on_day", {"event_property": {"select": "3"}})
    project.update(properties=["purchases_on_day"], origin="test")
    tables = _tables(project)
    assert sorted(tables.values()) == [("purchases_on_day",), ("sessions_on_day",)]
    purchases = next(t for t, c in tables.items() if c == ("purchases_on_day",))
    replaced = next(t for t, c in first.items() if c == ("purchases_on_day",))
    assert set(tables) == set(first) - {replaced} | {purchases}
    _assert_as_fresh(project, tmp_path, "re-edited")

    # a rewind writes its days into the daily table and takes them out of the column tables
    stored = _days(project, purchases)
    change_warehouse(project.root, day(10), day(15))  # purchase amounts doubled on those days
    project.rewind(day(10), day(15), origin="test")
    assert _days(project, purchases) == {d for d in stored if d < day(10)}
    _assert_as_fresh(project, tmp_path, "rewound")

    # new days (and the lookback days) the same way
    shutil.copy(full, project.root / WAREHOUSE)
    change_warehouse(project.root, day(10), day(15))  # as the rewind saw them
    project.update(origin="test")
    assert _days(project, purchases) == {d for d in stored if d < day(10)}
    _assert_as_fresh(project, tmp_path, "updated")

    # an edit of a window rewrites the daily table whole, with the column tables' values
    edit_property(project.root)
    project.update(properties=["days_active_last_28_days"], origin="test")
    assert _tables(project) == {}
    _assert_as_fresh(project, tmp_path, "merged")


def test_the_views_file_reads_the_column_tables(demo, tmp_path) -> None:
    root, _full = demo
    project = Project(_copy(root, tmp_path / "edited"))
    change_property(project.root, "dau_active", {"event_property": {"select": "2"}})
    project.update(kpis=["dau"], origin="test")
    assert len(_tables(project)) == 1
    fresh = Project(_copy_config(project.root, tmp_path / "fresh"))
    fresh.refresh(origin="test")
    sums = []
    for one in (project, fresh):
        schema = one.resolved().entity.model_schema
        with duckdb.connect(str(one.model_dir() / "catalog.duckdb"), read_only=True) as con:
            sums.append(con.sql(f'SELECT sum(dau_active), count(*) FROM "{schema}".daily').fetchall())
    assert sums[0] == sums[1]
    assert sums[0][0][0] > 0


def test_a_partial_update_past_the_most_column_tables_folds_them_into_the_daily_table(demo, tmp_path,
                                                                                      monkeypatch) -> None:
    monkeypatch.setattr(partial_active, "MAX_COLUMN_TABLES", 1)
    root, _full = demo
    project = Project(_copy(root, tmp_path / "edited"))
    store = project.model_store(readonly=True)
    before = {f.path for f in store.snapshot(DAILY).files}
    change_property(project.root, "dau_active", {"event_property": {"select": "2"}})
    project.update(properties=["dau_active"], origin="test")
    assert len(_tables(project)) == 1 and {f.path for f in store.snapshot(DAILY).files} == before
    change_property(project.root, "revenue_on_day", {"event_property": {"select": "{amount_usd} + 1"}})
    project.update(properties=["revenue_on_day"], origin="test")
    assert _tables(project) == {}
    after = store.snapshot(DAILY).files
    assert not {f.path for f in after if f.active} & before  # the activity part is new
    assert {f.path for f in after if f.active is False} <= before  # the other part is kept
    _assert_as_fresh(project, tmp_path, "folded")


def test_restore_brings_back_a_column_table_and_vacuum_removes_one_no_version_names(demo, tmp_path) -> None:
    root, _full = demo
    project = _partially_updated(root, tmp_path, "purchases_on_day")
    with_table = project.history()[0].version
    (table,) = _tables(project)
    values = column_values(project)

    project.rewind(day(0), day(LAST - 4), origin="test")  # every day: the column table is emptied
    assert _tables(project) == {}
    assert table not in project.history()[0].tables
    _assert_as_fresh(project, tmp_path, "rewound")

    project.restore(with_table, origin="test")
    assert list(_tables(project)) == [table]
    restored = column_values(project)
    for column in values:
        assert same(restored[column], values[column]), column

    project.refresh(origin="test")
    location = project.model_dir() / "tables" / table
    assert location.is_dir()
    project.vacuum(keep_days=0, origin="test")
    assert not location.exists()
    _assert_as_fresh(project, tmp_path, "vacuumed")


def test_compact_folds_the_column_tables_into_the_daily_table_without_changing_a_value(demo, tmp_path) -> None:
    root, _full = demo
    project = _partially_updated(root, tmp_path, "purchases_on_day", "sessions_on_day")
    assert len(_tables(project)) == 2
    store = project.model_store(readonly=True)
    before = store.snapshot(DAILY).files
    values = column_values(project)
    with_tables = project.history()[0].version

    done = run_cli(project.root, "model", "compact")
    assert done.returncode == 0, done.stderr
    assert "folds 2 column table(s) into the daily table" in done.stdout
    assert _tables(project) == {} and project.history()[0].kind == "compact"
    after = store.snapshot(DAILY).files
    assert {f.path for f in after if f.active is False} == {f.path for f in before if f.active is False}
    assert not {f.path for f in after if f.active} & {f.path for f in before if f.active}
    assert sum(f.rows for f in after) == sum(f.rows for f in before)
    compacted = column_values(project)
    for column in values:
        assert same(compacted[column], values[column], exact=True), column
    _assert_as_fresh(project, tmp_path, "compacted")

    again = run_cli(project.root, "model", "compact")  # nothing left to fold: no job, no version
    assert again.returncode == 0 and "Nothing to compact" in again.stdout, again.stdout + again.stderr
    assert project.history()[0].kind == "compact" and project.history()[1].version == with_tables

    project.restore(with_tables, origin="test")  # the version with the column tables, again
    assert len(_tables(project)) == 2 and project.history()[0].restored_from == with_tables


def test_the_scheduler_compacts_after_its_update(demo, tmp_path) -> None:
    root, _full = demo
    project = _partially_updated(root, tmp_path, "purchases_on_day")
    assert len(_tables(project)) == 1
    later = time.time() + 3 * 86400  # the next update is due
    outcome = Scheduler(project, clock=lambda: later).tick()
    assert outcome.status in ("ran", "up to date"), outcome.message
    assert "column tables folded into the daily table" in outcome.message
    jobs = [(j.kind, j.origin, j.status) for j in project.jobs(2)]
    assert jobs[0] == ("compact", "scheduler", "succeeded")
    assert _tables(project) == {}
    _assert_as_fresh(project, tmp_path, "scheduled")
