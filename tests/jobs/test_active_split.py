"""The daily table stores each day's rows in two parts, by whether the user was active or
registered that day (days_since_last_active = 0 or cohort_day = 0): KPIs that see only
those days read the first part alone. Checked against the warehouse's sessions (the demo's
activity events), for the tables a refresh writes and the days an update or a rewind
replaces."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from jobs_support import copy_project, day

from asemic_core.backend.delta_store import ONE_PASS_DAYS, DeltaTableStore
from asemic_core.project import Project
from asemic_core.query.kpi import KpiRequest
from asemic_core.storage.store import DAILY


def _read(files: list[str], columns: str = "days_since_last_active") -> list[tuple]:
    """(date, ``columns``, rows) of ``files``."""
    if not files:
        return []
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    with duckdb.connect() as con:
        return con.sql(f"SELECT date, {columns}, count(*) FROM read_parquet([{listed}], "
                       f"hive_partitioning = true) GROUP BY ALL ORDER BY ALL").fetchall()


def _active_users_by_day(root: Path) -> dict[dt.date, int]:
    """Registered users with a session, per day, from the warehouse."""
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("SELECT s.event_date, count(DISTINCT s.user_id) FROM game.sessions s "
                       "JOIN game.registrations r ON r.user_id = s.user_id AND r.event_date <= s.event_date "
                       "GROUP BY 1").fetchall()
    return dict(rows)


def _check_split(root: Path, days: tuple[dt.date, dt.date] | None = None) -> None:
    snapshot = Project(root).model_store(readonly=True).snapshot(DAILY)
    assert snapshot.split and all(f.active is not None for f in snapshot.files)
    if days is not None:
        snapshot = snapshot.between(*days)
    both = "days_since_last_active, cohort_day"
    active = _read([f.path for f in snapshot.files if f.active], both)
    rest = _read([f.path for f in snapshot.files if not f.active], both)
    assert active and rest
    assert all(dsla == 0 or cohort == 0 for _d, dsla, cohort, _n in active)
    assert not any(dsla == 0 or cohort == 0 for _d, dsla, cohort, _n in rest)
    expected = _active_users_by_day(root)
    counted: dict[dt.date, int] = {}
    for d, dsla, _cohort, n in active:
        if dsla == 0:
            counted[d] = counted.get(d, 0) + n
    assert counted == {d: expected[d] for d in counted}
    assert set(counted) == {d for d, *_rest in active + rest}  # every day has active users here


def test_a_refresh_stores_activity_days_apart(demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.clean, tmp_path / "project")
    _check_split(root)


@pytest.mark.parametrize("kind", ["update", "rewind", "long rewind"])
def test_updates_and_rewinds_keep_the_split(kind: str, demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.behind if kind == "update" else demo_states.clean, tmp_path / "project")
    tables = Project(root).model_store(readonly=True).tables
    before = tables.latest(DAILY)
    if kind == "update":
        result = Project(root).update(origin="test")
        replaced = (day(54), day(59))
    else:  # the last days; or days whose windows reach a month of later days, rewound with them
        result = Project(root).rewind(*((day(55), day(59)) if kind == "rewind" else (day(20), day(24))), origin="test")
        replaced = (result.first_day, result.last_day)
    _check_split(root, replaced)
    _check_split(root)
    # a few days' two parts are one commit; more days set the activity part aside (a second commit)
    days = (result.last_day - result.first_day).days + 1
    assert (days > ONE_PASS_DAYS) == (kind == "long rewind")
    assert tables.latest(DAILY) - before == (2 if kind == "long rewind" else 1)


def test_activity_kpis_read_only_the_active_part(demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.clean, tmp_path / "project")
    project = Project(root)
    dau = project.kpi_query(KpiRequest("dau", day(30), day(39)))
    assert "__active=true" in dau.sql and "__active=false" not in dau.sql
    expected = _active_users_by_day(root)
    assert {p["date"]: p["value"] for p in dau.points.to_dicts()} == {day(i): expected[day(i)] for i in range(30, 40)}
    # MAU: a recency window, derived from the activity days (query/test_kpi_delta.py checks values)
    mau = project.kpi_query(KpiRequest("mau", day(30), day(39)))
    assert "__active=true" in mau.sql and "__active=false" not in mau.sql
    lost = project.kpi_query(KpiRequest("mau_lost", day(30), day(39)))  # a day counter of every user: both parts
    assert "__active=true" in lost.sql and "__active=false" in lost.sql


def test_a_table_written_before_the_split_keeps_one_part_per_day(tmp_path: Path) -> None:
    store = DeltaTableStore(tmp_path / "tables")

    def rows(first: int, values: list[int | None]) -> pa.Table:
        return pa.table({"entity_id": [f"u{i}" for i in range(len(values))],
                         "date": [dt.date(2026, 1, first)] * len(values),
                         "days_since_last_active": pa.array(values, pa.int64()),
                         "cohort_day": pa.array([9] * len(values), pa.int64())})

    first = store.write("daily", pa.concat_tables([rows(1, [0, 2, None]), rows(2, [1, 0, 0])]), partition_by="date",
                        replace_days=None, replace_schema=True)
    assert not store.snapshot("daily", first).split
    # a day replaced in a table without the split: still one part per day, nothing lost
    second = store.write("daily", rows(2, [0, 0, 3]), partition_by="date", replace_days=(dt.date(2026, 1, 2),) * 2,
                         replace_schema=False, split_active=True)
    snapshot = store.snapshot("daily", second)
    assert not snapshot.split and snapshot.active_only().files == snapshot.files
    assert sorted(_read([f.path for f in snapshot.files]), key=str) == sorted(
        [(dt.date(2026, 1, 1), 0, 1), (dt.date(2026, 1, 1), 2, 1), (dt.date(2026, 1, 1), None, 1),
         (dt.date(2026, 1, 2), 0, 2), (dt.date(2026, 1, 2), 3, 1)], key=str)
    # a whole rewrite splits it; its columns stay the table's own
    third = store.write("daily", rows(3, [0, 5, None]), partition_by="date", replace_days=None, replace_schema=True,
                        split_active=True)
    snapshot = store.snapshot("daily", third)
    assert snapshot.split and snapshot.columns == ("entity_id", "date", "days_since_last_active", "cohort_day")
    assert _read([f.path for f in snapshot.active_only().files]) == [(dt.date(2026, 1, 3), 0, 1)]
    assert store.snapshot("daily", first).files and not store.snapshot("daily", first).split  # time travel


def test_file_statistics_tell_a_column_holding_one_integer_everywhere(tmp_path: Path) -> None:
    store = DeltaTableStore(tmp_path / "tables")
    table = pa.table({"entity_id": ["a", "b", "c", "d"],
                      "date": [dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 3)],
                      "zeros": pa.array([0, 0, 0, 0], pa.int64()),
                      "mixed": pa.array([0, 0, 0, 5], pa.int64()),
                      "nulls": pa.array([0, None, 0, 0], pa.int64()),
                      "floats": pa.array([0.0, 0.0, 0.0, 0.0], pa.float64())})
    snapshot = store.snapshot("daily", store.write("daily", table, partition_by="date", replace_days=None,
                                                    replace_schema=True))
    assert store.holds_everywhere(snapshot, "zeros", 0) and not store.holds_everywhere(snapshot, "zeros", 1)
    assert not store.holds_everywhere(snapshot, "mixed", 0)  # one day's file holds a 5
    assert store.holds_everywhere(snapshot.between(None, dt.date(2026, 1, 2)), "mixed", 0)
    assert not store.holds_everywhere(snapshot, "nulls", 0)  # a NULL is not the value
    assert not store.holds_everywhere(snapshot, "floats", 0)  # a NaN would be missing from the statistics
    assert not store.holds_everywhere(snapshot, "missing", 0)
    assert store.holds_everywhere(snapshot.between(dt.date(2026, 2, 1), None), "mixed", 5)  # no file: no row
