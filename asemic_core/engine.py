"""The engine's entry points for jobs and queries: an executor over the warehouse (the
one place that picks the implementation: DuckDB) and day-range facts they share."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from sqlglot import exp

from asemic_core.backend.duckdb_executor import DuckDBExecutor, connect
from asemic_core.backend.settings import EngineSettings, SparkCatalog
from asemic_core.errors import WarehouseError
from asemic_core.names import quoted_table
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.render import render
from asemic_core.sql.sources import activity_relation, quoted, registrations_relation


def warehouse_connection(path: Path, scratch: Path | None = None, project: ResolvedProject | None = None,
                         settings: EngineSettings | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only warehouse connection; with ``project``, its event tables' row order is looked up."""
    settings = settings or EngineSettings()
    if scratch is not None:
        settings = settings.with_temp_directory(scratch)
    con = connect(path, settings)
    if project is not None:
        annotate_row_order(con, project)
    return con


def warehouse_executor(path: Path, project: ResolvedProject, settings: EngineSettings | None = None) -> DuckDBExecutor:
    """The executor queries run on: the warehouse's events plus the model's tables. On a
    Spark project whose files this process can read, DuckDB reads them (see docs/spark.md);
    events in the Spark catalog are read by Spark only."""
    if isinstance(path, SparkCatalog):
        return spark_executor(path, EngineSettings(spark=path.settings) if settings is None else settings)
    if settings is not None and settings.spark is not None and not settings.spark.local_tables:
        return spark_executor(path, settings)
    return DuckDBExecutor(warehouse_connection(path, project=project, settings=settings))


def spark_executor(path: Path, settings: EngineSettings):
    """The Spark executor of a project whose ``engine.type`` is spark."""
    from asemic_core.backend.spark_executor import SparkExecutor

    if isinstance(path, SparkCatalog) or path is None:
        return SparkExecutor(settings.spark or path.settings)  # table names resolve in the session's catalog
    if Path(path).is_file():
        raise WarehouseError(f"engine.type is spark but the warehouse {path} is a DuckDB file, which Spark "
                             "cannot read: write the events as Parquet (warehouse.type: parquet, a directory "
                             "with <schema>/<table>/ folders)")
    return SparkExecutor(settings.spark, warehouse=str(path))


def spark_preflight(path: Path, project: ResolvedProject, settings: EngineSettings) -> None:
    """Before a Spark job opens the model: Spark starts with the engine settings and every
    event table exists on it (else a message naming the setting; nothing is written)."""
    executor = spark_executor(path, settings)
    executor.session  # noqa: B018 - starts Spark: no Java, a master that does not answer, bad conf
    for event_id, event in sorted(project.events.items()):
        if not event.table_name:
            continue
        probe = exp.select(exp.Star()).from_(quoted_table(event.table_name)).limit(0)
        try:
            executor.session.sql(executor.to_spark(render(probe))).schema  # noqa: B018 - resolves the table
        except Exception as err:  # noqa: BLE001 - AnalysisException and its kin
            where = describe_events(path)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WarehouseError(f"event {event_id!r}: table {event.table_name} does not exist on Spark "
                                 f"(looked in {where}): {first}") from None


def describe_events(path) -> str:
    """Where the event tables are, naming the setting (for messages)."""
    if isinstance(path, SparkCatalog) or path is None:
        return "the Spark catalog (warehouse.type spark_catalog)"
    return f"warehouse.path {path}"


def annotate_row_order(con: duckdb.DuckDBPyConnection, project: ResolvedProject) -> None:
    """Mark the event tables that have a row order (DuckDB base tables have ``rowid``)."""
    rows = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                       "WHERE table_type = 'BASE TABLE' AND table_catalog = current_database()").fetchall()
    tables = {f"{schema}.{name}" for schema, name in rows} | {name for schema, name in rows if schema == "main"}
    for event in project.events.values():
        if event.table_name and event.table_name in tables:
            event.row_order_column = "rowid"


def memory_connection(settings: EngineSettings | None = None) -> duckdb.DuckDBPyConnection:
    return connect(None, settings)


def source_day_range(executor, project: ResolvedProject) -> tuple[dt.date, dt.date] | None:
    """(first registration day, latest activity day), with model_settings applied."""
    if isinstance(executor, duckdb.DuckDBPyConnection):
        executor = DuckDBExecutor(executor)
    if isinstance(executor, DuckDBExecutor):
        annotate_row_order(executor.con, project)
    first_q = exp.select(exp.Min(this=quoted("date"))).from_(
        exp.alias_(registrations_relation(project), "r", table=True))
    last_q = exp.select(exp.Max(this=quoted("date"))).from_(exp.alias_(activity_relation(project), "a", table=True))
    try:
        first = executor.rows(render(first_q))[0][0]
        last = executor.rows(render(last_q))[0][0]
    except duckdb.Error as err:
        raise WarehouseError(f"cannot read the event tables: {str(err).splitlines()[0]}") from None
    if first is None or last is None:
        return None
    settings = project.entity.model_settings if project.entity else None
    if settings and settings.start_date:
        first = settings.start_date
    if settings and settings.end_date:
        last = min(last, settings.end_date)
    return first, last


def latest_source_day(executor, project: ResolvedProject, after: dt.date) -> dt.date:
    """The latest activity day after ``after`` (``end_date`` applied), else ``after``: what an
    update needs of the sources' range, reading only the days after the watermark."""
    query = exp.select(exp.Max(this=quoted("date"))).from_(exp.alias_(activity_relation(project), "a", table=True)).where(
        exp.GT(this=quoted("date"), expression=exp.Cast(this=exp.Literal.string(after.isoformat()),
                                                      to=exp.DataType.build("DATE"))))
    try:
        last = executor.rows(render(query))[0][0]
    except duckdb.Error as err:
        raise WarehouseError(f"cannot read the event tables: {str(err).splitlines()[0]}") from None
    settings = project.entity.model_settings if project.entity else None
    if last is not None and settings and settings.end_date:
        last = min(last, settings.end_date)
    return max(last, after) if last is not None else after


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
