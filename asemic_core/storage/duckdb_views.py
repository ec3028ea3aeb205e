"""A DuckDB file with views over the published model version, so analysts can
``SELECT * FROM <data_model_schema>.daily`` from any DuckDB client (the tables themselves
are Delta Lake tables under ``tables/``, readable by any Delta reader).

``daily`` is the logical model (every registered user on every materialized day, derived
from the stored rows as the queries derive it); ``daily_stored`` is the rows as stored
(only the days on which a value can change, in the sparse layout)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
from sqlglot import exp

from asemic_core.backend.duckdb_executor import DuckDBExecutor, configure
from asemic_core.backend.settings import EngineSettings
from asemic_core.names import quote_name, sql_string
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.expansion import expand_range, needed_columns
from asemic_core.storage.store import DAILY, ModelStore, USER_STATE, is_column_table

VIEWS_FILE = "catalog.duckdb"
ATTACHED = "asemic_views_new"  # the new views file, attached to a job's connection while written


def write_views(store: ModelStore, project: ResolvedProject, executor=None) -> Path:
    """Write the views file of the published version: through ``executor``'s DuckDB
    connection when the job has one open (a new DuckDB instance costs ~10 ms), else its own."""
    schema = project.entity.model_schema if project.entity else "asemic_model"
    target = store.root / VIEWS_FILE
    tmp = store.root / f".{VIEWS_FILE}.{os.getpid()}.tmp"
    if tmp.exists():
        tmp.unlink()
    con, prefix = (executor.con, f"{quote_name(ATTACHED)}.") if isinstance(executor, DuckDBExecutor) else (None, "")
    if con is not None:
        try:
            con.execute(f"ATTACH {sql_string(str(tmp))} AS {quote_name(ATTACHED)} (READ_WRITE)")
        except duckdb.Error:  # e.g. a connection that cannot attach a file: one of its own
            con, prefix = None, ""
    if con is None:
        con, prefix = configure(duckdb.connect(str(tmp)), EngineSettings()), ""
    try:
        _create_views(con, prefix + quote_name(schema), store, project)
    finally:
        if prefix:
            con.execute(f"DETACH {quote_name(ATTACHED)}")
        else:
            con.close()
    os.replace(tmp, target)
    return target


def _create_views(con, quoted_schema: str, store: ModelStore, project: ResolvedProject) -> None:
    executor = DuckDBExecutor(con)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted_schema}")
    current = store.current()
    for table in (current.tables if current else {}):
        if table == USER_STATE or is_column_table(table):  # the engine's own state; read through the daily view
            continue
        snapshot = store.snapshot(table, current)
        if snapshot is None or not snapshot.files:
            continue
        relation = executor.relation(snapshot)
        if table == DAILY and current.watermark:
            con.execute(f"CREATE VIEW {quoted_schema}.{quote_name(table + '_stored')} AS {relation.sql(executor.dialect)}")
            columns = [c for c in snapshot.columns if c not in ("entity_id", "date") and c in project.properties]
            # with what gap days read that the table may not store (a window's next-day value)
            read = list(dict.fromkeys([*snapshot.columns, *needed_columns(project, columns)]))
            relation = expand_range(project, exp.Subquery(this=executor.relation(snapshot, read)), columns,
                                    dt.date.fromisoformat(current.first_day), dt.date.fromisoformat(current.watermark))
        con.execute(f"CREATE VIEW {quoted_schema}.{quote_name(table)} AS {relation.sql(executor.dialect)}")
