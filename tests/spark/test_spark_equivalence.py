"""The model on Spark equals the model on DuckDB, value for value, through every job kind:
refresh, daily updates, late data with a rewind and its cascade, a partial update; and
every KPI point, read from Spark's files by DuckDB and computed on Spark."""

from __future__ import annotations

import pytest
from spark_support import assert_models_equal, assert_same, day, kpi_points, make_pair, set_events, table_frame

from asemic_core.backend.spark_executor import SparkExecutor
from asemic_core.config.writer import save_property
from asemic_core.project import Project

USERS, DAYS = 2000, 60
EDITED = "days_active_last_7_days"


@pytest.fixture(scope="module")
def pair(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("equivalence")
    spark_root, duck_root, full = make_pair(root, USERS, DAYS)
    return Project(spark_root), Project(duck_root), full, root / "events"


class Recorder:
    """A progress reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.bars: list[tuple[str, int]] = []
        self.advanced = 0

    def start(self, total: int, label: str) -> None:
        self.bars.append((label, total))

    def advance(self, n: int = 1) -> None:
        self.advanced += n

    def finish(self) -> None:
        pass


def run_both(pair, kind: str, **args):
    spark_project, duck_project, _full, _events = pair
    results = []
    for project in (spark_project, duck_project):
        results.append(getattr(project, kind)(origin="test", **args))
    assert results[0].first_day == results[1].first_day and results[0].last_day == results[1].last_day
    assert [(d, n) for d, n, _s in results[0].days] == [(d, n) for d, n, _s in results[1].days]
    return results[0]


def test_jobs_on_spark_equal_duckdb(pair):
    spark_project, duck_project, full, events = pair
    set_events(full, events, day(52))
    progress = Recorder()
    result = spark_project.refresh(origin="test", reporter=progress)
    expected = duck_project.refresh(origin="test")
    # Spark's stages and tasks reached the reporter while the job wrote.
    stages = [(label, total) for label, total in progress.bars if label.startswith("Spark stage ")]
    assert stages and all(total >= 1 for _label, total in stages)
    assert (result.first_day, result.last_day) == (day(0), day(52))
    rows = assert_models_equal(spark_project.root, duck_project.root, "refresh")
    assert result.rows == expected.rows  # user-days
    assert rows == spark_project.status().stored_rows > 0  # the rows the daily table stores
    refreshed = table_frame(spark_project.root)

    # Daily updates: one day, then the rest (with the config's 3 lookback days).
    set_events(full, events, day(53))
    result = run_both(pair, "update")
    assert result.last_day == day(53)
    assert_models_equal(spark_project.root, duck_project.root, "update to day 53")
    set_events(full, events, day(DAYS - 1))
    run_both(pair, "update")
    assert_models_equal(spark_project.root, duck_project.root, "update to the last day")

    # Late data on days 40..41: the rewind recomputes them and the days that depend on them.
    set_events(full, events, day(DAYS - 1), change=(day(40), day(41)))
    result = run_both(pair, "rewind", day_from=day(40), day_to=day(41))
    assert result.first_day == day(40) and result.last_day == day(DAYS - 1)  # the cascade: windows reach the end
    assert_models_equal(spark_project.root, duck_project.root, "rewind with cascade")

    # A partial update: one property's definition changed, only its column recomputed.
    for project in (spark_project, duck_project):
        save_property(project.root, EDITED, {"data_type": "INTEGER", "sliding_window_property": {
            "source_property": "dau_active", "window_function": "sum", "relative_days_from": -13,
            "relative_days_to": 0}})
    run_both(pair, "update", properties=[EDITED])
    assert_models_equal(spark_project.root, duck_project.root, "partial update")
    versions = [v.kind for v in spark_project.history()]
    assert versions == ["partial", "rewind", "update", "update", "refresh"]

    # Versions stay readable: restore the refresh's, then the latest again; a vacuum keeping
    # only the published version removes the other directories and leaves it whole.
    spark_project.restore(1, origin="test")
    assert_same(table_frame(spark_project.root), refreshed, "restored refresh")
    spark_project.restore(5, origin="test")
    tables = spark_project.engine_settings().spark.tables_path
    before = {p for p in (spark_project.root / tables).rglob("v*") if p.parent.name in ("daily", "users")}
    removed = spark_project.vacuum(0, origin="test")
    after = {p for p in (spark_project.root / tables).rglob("v*") if p.parent.name in ("daily", "users")}
    assert after < before and removed.phases["files_removed"] > 0
    assert_models_equal(spark_project.root, duck_project.root, "restored and vacuumed")


def test_kpi_points_equal(pair):
    spark_project, duck_project, _full, events = pair
    expected = kpi_points(duck_project, day(30), day(DAYS - 1))
    assert len(expected) >= 8
    local = kpi_points(spark_project, day(30), day(DAYS - 1))
    settings = spark_project.engine_settings().spark
    on_spark = kpi_points(spark_project, day(30), day(DAYS - 1), SparkExecutor(settings, warehouse=str(events)))
    for kpi_id, points in expected.items():
        assert points.height == 30, kpi_id
        assert_same(local[kpi_id], points, f"KPI {kpi_id} read by DuckDB")
        assert_same(on_spark[kpi_id].cast(points.schema), points, f"KPI {kpi_id} on Spark")
