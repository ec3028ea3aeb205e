"""Helpers of the Spark tests: a demo whose events are Parquet tables, the same project on
DuckDB and on Spark, and comparisons of their model tables and KPI points."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

import duckdb
import polars as pl

from asemic_core.backend.duckdb_executor import DuckDBExecutor
from asemic_core.config import writer
from asemic_core.config.models import DeploymentConfig
from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import PARQUET_DIR, init_demo
from asemic_core.project import Project
from asemic_core.query.kpi import KpiRequest

DEMO_START = DemoSpec().start_date
TABLES = ("registrations", "sessions", "purchases", "ad_views", "level_completions")


def day(offset: int) -> dt.date:
    return DEMO_START + dt.timedelta(days=offset)


def make_pair(root: Path, users: int, days: int, seed: int = 7, master: str = "local[2]") -> tuple[Path, Path, Path]:
    """(Spark project, DuckDB project, full events): both projects read one Parquet
    warehouse (``root/events``), which ``set_events`` rewrites from the full events."""
    spark_root = root / "spark"
    init_demo(spark_root, DemoSpec(users=users, days=days, seed=seed), engine="spark")
    full = root / "full"
    shutil.move(str(spark_root / PARQUET_DIR), full)
    events = root / "events"
    shutil.copytree(full, events)
    duck_root = root / "duckdb"
    shutil.copytree(spark_root, duck_root)
    for target, engine in ((spark_root, {"type": "spark", "master": master}), (duck_root, None)):
        body = {"name": "Demo game", "warehouse": {"type": "parquet", "path": str(events)}}
        if engine:
            body["engine"] = engine
        writer.save_deployment(target, DeploymentConfig.model_validate(body))
    return spark_root, duck_root, full


def set_events(full: Path, events: Path, last: dt.date, change: tuple[dt.date, dt.date] | None = None) -> None:
    """The warehouse holds the events up to ``last``; with ``change``, late data inside that
    range: a quarter of the sessions dropped, purchase amounts doubled."""
    con = duckdb.connect()
    try:
        for table in TABLES:
            source = str(full / "game" / table / "*.parquet")
            query = f"SELECT * FROM read_parquet('{source}') WHERE event_date <= DATE '{last}'"
            if change and table == "sessions":
                query += (f" AND NOT (event_date BETWEEN DATE '{change[0]}' AND DATE '{change[1]}' "
                          f"AND hash(user_id, event_ts) % 4 = 0)")
            if change and table == "purchases":
                query = (f"SELECT * REPLACE (CASE WHEN event_date BETWEEN DATE '{change[0]}' AND DATE '{change[1]}' "
                         f"THEN amount_usd * 2 ELSE amount_usd END AS amount_usd) FROM ({query})")
            folder = events / "game" / table
            old = list(folder.glob("*.parquet"))
            con.execute(f"COPY ({query}) TO '{folder / f'part-{uuid.uuid4().hex}.parquet'}' (FORMAT parquet)")
            for path in old:
                path.unlink()
    finally:
        con.close()


def table_frame(root: Path, table: str = "daily") -> pl.DataFrame:
    """The published version of a model table, read with DuckDB from its files."""
    snapshot = Project(root).model_store().snapshot(table)
    con = duckdb.connect()
    try:
        sql = DuckDBExecutor(con).relation(snapshot).sql("duckdb")
        frame = con.sql(sql).pl()
    finally:
        con.close()
    keys = ["entity_id", "date"] if "date" in frame.columns else ["entity_id"]
    return frame.select(sorted(frame.columns)).sort(keys)


def assert_same(actual: pl.DataFrame, expected: pl.DataFrame, what: str) -> None:
    """Integers, strings and dates exactly; floats to 1e-9 relative."""
    assert actual.columns == expected.columns, what
    assert actual.height == expected.height, f"{what}: {actual.height} rows, expected {expected.height}"
    for name in actual.columns:
        left, right = actual[name], expected[name]
        if left.dtype.is_float() or right.dtype.is_float():
            left, right = left.cast(pl.Float64), right.cast(pl.Float64)
            both_null = left.is_null() & right.is_null()
            close = ((left - right).abs() <= 1e-9 * right.abs().clip(lower_bound=1e-12)) | (left == right)
            bad = (~(both_null | close.fill_null(False))).sum()
        else:
            assert left.dtype == right.dtype, f"{what}.{name}: {left.dtype} != {right.dtype}"
            bad = (~left.eq_missing(right)).sum()
        assert bad == 0, f"{what}.{name}: {bad} value(s) differ"


def assert_models_equal(spark_root: Path, duck_root: Path, step: str) -> int:
    """Every table of the published versions equal; the daily table's row count."""
    daily = table_frame(spark_root)
    assert_same(daily, table_frame(duck_root), f"{step}: daily")
    assert_same(table_frame(spark_root, "users"), table_frame(duck_root, "users"), f"{step}: users")
    return daily.height


def kpi_points(project: Project, date_from: dt.date, date_to: dt.date, executor=None,
               only: tuple[str, ...] | None = None) -> dict[str, pl.DataFrame]:
    """Every date-axis KPI (or those of ``only``) over date_from .. date_to (``executor``:
    run the queries on it)."""
    source = project.source()
    if executor is not None:
        source._executor = executor
    out = {}
    try:
        for kpi_id, kpi in sorted(source.resolved.kpis.items()):
            if "date" in kpi.x_axes and (only is None or kpi_id in only):
                result = project.kpi_query(KpiRequest(kpi_id, date_from, date_to), source)
                out[kpi_id] = result.points.sort(result.points.columns[0])
    finally:
        if executor is None:
            source.close()
    return out
