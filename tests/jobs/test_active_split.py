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
from deltalake.exceptions import DeltaError
from jobs_support import copy_project, day

from asemic_core.backend import delta_store
from asemic_core.backend.delta_store import ACTIVE_WINDOW_DAYS, ONE_PASS_DAYS, DeltaTableStore
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
    # a few days' two parts are one commit; more days set the activity part aside (a second
    # commit: the demo's activity rows are far fewer than WINDOW_ROWS)
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
    # mau_lost: a step function of days_since_last_active over every registered user, from
    # the activity part and the users table (query/test_kpi_delta.py checks values)
    lost = project.kpi_query(KpiRequest("mau_lost", day(30), day(39)))
    assert "__active=true" in lost.sql and "__active=false" not in lost.sql


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


def _previous_active_days(root: Path) -> dict[tuple[str, dt.date], dt.date | None]:
    """Each registered user's session days (from registration on) with the session day
    before it (before registration too), from the warehouse."""
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("WITH d AS (SELECT DISTINCT user_id, event_date FROM game.sessions), "
                       "p AS (SELECT user_id, event_date, lag(event_date) OVER (PARTITION BY user_id "
                       "ORDER BY event_date) AS previous FROM d) "
                       "SELECT p.user_id, p.event_date, p.previous FROM p JOIN game.registrations r "
                       "ON r.user_id = p.user_id AND r.event_date <= p.event_date").fetchall()
    return {(str(user), d): previous for user, d, previous in rows}


def _stored_previous_active(root: Path, days: tuple[dt.date, dt.date]) -> dict[tuple[str, dt.date], dt.date | None]:
    snapshot = Project(root).model_store(readonly=True).snapshot(DAILY).between(*days)
    listed = ", ".join("'" + f.path.replace("'", "''") + "'" for f in snapshot.files)
    with duckdb.connect() as con:
        rows = con.sql(f"SELECT entity_id, date, days_since_last_active, __previous_active "
                       f"FROM read_parquet([{listed}], hive_partitioning = true)").fetchall()
    assert not [r for r in rows if r[2] != 0 and r[3] is not None], "set on activity days only"
    return {(str(user), d): previous for user, d, dsla, previous in rows if dsla == 0}


@pytest.mark.parametrize("kind", ["refresh", "update", "rewind"])
def test_activity_days_store_the_previous_activity_day(kind: str, demo_states, tmp_path: Path) -> None:
    """__previous_active (the activity day before each activity day; the reader of recency
    windows relies on it) as a refresh writes it and as an update or a rewind replaces it."""
    if kind == "update":
        root = copy_project(demo_states.behind, tmp_path / "project")
        Project(root).update(origin="test")
        replaced = (day(54), day(59))
    elif kind == "rewind":
        root = copy_project(demo_states.clean, tmp_path / "project")
        Project(root).rewind(day(20), day(24), origin="test")
        replaced = (day(20), day(24))
    else:
        root = copy_project(demo_states.clean, tmp_path / "project")
        replaced = (day(0), day(59))
    expected = {key: previous for key, previous in _previous_active_days(root).items()
                if replaced[0] <= key[1] <= replaced[1]}
    stored = _stored_previous_active(root, replaced)
    assert stored == expected
    assert sum(previous is not None for previous in stored.values()) > len(stored) / 2


def test_a_table_without_the_previous_activity_day_keeps_working(demo_states, tmp_path: Path, monkeypatch) -> None:
    """A model written before __previous_active existed: a rewind keeps the table's columns
    (it does not add one the other days lack), and KPIs of recency windows and step
    functions take their other paths, with the same values as a model that has it."""
    from asemic_core.jobs import refresh as refresh_job
    from asemic_core.sql.model_sql import ModelRequest

    root = copy_project(demo_states.clean, tmp_path / "project")
    monkeypatch.setattr(refresh_job, "ModelRequest",
                        lambda *args, **kwargs: ModelRequest(*args, **{**kwargs, "previous_active": False}))
    project = Project(root)
    project.refresh(origin="test")
    monkeypatch.undo()
    assert "__previous_active" not in project.model_store(readonly=True).snapshot(DAILY).columns
    project.rewind(day(20), day(24), origin="test")
    assert "__previous_active" not in project.model_store(readonly=True).snapshot(DAILY).columns
    clean = Project(demo_states.clean)
    for kpi in ("mau", "stickiness", "mau_lost"):
        old, new = (p.kpi_query(KpiRequest(kpi, day(10), day(59))) for p in (project, clean))
        assert old.points.to_dicts() == new.points.to_dicts(), kpi
        assert "__previous_active" not in old.sql and "__previous_active" in new.sql


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


@pytest.mark.parametrize(("window_rows", "commits"), [(2_000_000, 1), (700_000, 2), (500_000, 3)])
def test_the_activity_part_is_written_by_window_in_full_row_groups(window_rows: int, commits: int, tmp_path: Path,
                                                                   monkeypatch) -> None:
    """A write reaching every day sets the activity part aside by window of
    ACTIVE_WINDOW_DAYS days and appends whole windows, up to WINDOW_ROWS rows a commit (here
    windows of 6, 31 and 3 days of 20,000 rows: 120,000, 620,000 and 60,000 rows), each
    activity file one row group of its day's rows (more than the 8,192-row groups of the
    other part); replacing the activity part (compact, partial updates) does the same.
    Every row is kept, in its part."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    monkeypatch.setattr(delta_store, "WINDOW_ROWS", window_rows)
    store = DeltaTableStore(tmp_path / "tables")
    first_day = dt.date(2026, 1, 1)  # days since 1970: 20454; window 659 ends on 2026-01-06, 660 on 02-06
    days, per_day = 40, 20_000

    def rows(active_of: int) -> pa.Table:
        n = days * per_day
        index = pa.array(range(n), pa.int64())
        return pa.table({"entity_id": pc.cast(index, pa.string()),
                         "date": [first_day + dt.timedelta(days=i // per_day) for i in range(n)],
                         # one row in active_of is an activity day
                         "days_since_last_active": pa.array([0 if i % active_of == 0 else 1 + i % 5 for i in range(n)],
                                                            pa.int64()),
                         "cohort_day": pa.array([7] * n, pa.int64())})

    before = store.write("daily", rows(1_000_000), partition_by="date", replace_days=None, replace_schema=True)
    data = rows(1)  # every row active: 20,000 activity rows a day
    version = store.write("daily", data.filter(pc.equal(data["days_since_last_active"], 0)),
                          partition_by="date", replace_days=None, replace_schema=True, split_active=True)
    epoch = dt.date(1970, 1, 1)
    windows = {(first_day + dt.timedelta(days=i) - epoch).days // ACTIVE_WINDOW_DAYS for i in range(days)}
    assert windows == {659, 660, 661}
    # the other part (empty: every row is active), then the appends
    assert version - before == 1 + commits
    snapshot = store.snapshot("daily", version)
    active = [f for f in snapshot.files if f.active]
    assert len(active) == days and all(f.rows == per_day for f in active)
    assert all(pq.ParquetFile(f.path).metadata.num_row_groups == 1 for f in active)
    # replacing the activity part: the same layout, the inactive part untouched
    half = rows(2)
    replaced = store.write("daily", half.filter(pc.equal(half["days_since_last_active"], 0)),
                           partition_by="date", replace_days=None, replace_schema=False, replace_active=True)
    snapshot = store.snapshot("daily", replaced)
    active = [f for f in snapshot.files if f.active]
    assert len(active) == days and all(f.rows == per_day // 2 for f in active)
    assert all(pq.ParquetFile(f.path).metadata.num_row_groups == 1 for f in active)
    assert sum(f.rows for f in snapshot.files if not f.active) == 0
    # (the check runs in the stream delta-rs reads when the part is written in one go: its error wraps ours)
    with pytest.raises((ValueError, DeltaError), match="outside the activity part"):
        store.write("daily", half, partition_by="date", replace_days=None, replace_schema=False, replace_active=True)
    assert store.latest("daily") == replaced
