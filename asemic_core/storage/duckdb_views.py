"""A DuckDB file with views over the published model version, so analysts can
``SELECT * FROM <data_model_schema>.daily`` from any DuckDB client (the tables themselves
are Delta Lake tables under ``tables/``, readable by any Delta reader)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from asemic_core.backend.duckdb_executor import DuckDBExecutor, configure
from asemic_core.backend.settings import EngineSettings
from asemic_core.names import quote_name
from asemic_core.semantic.model import ResolvedProject
from asemic_core.storage.store import ModelStore

VIEWS_FILE = "catalog.duckdb"


def write_views(store: ModelStore, project: ResolvedProject) -> Path:
    schema = project.entity.model_schema if project.entity else "asemic_model"
    target = store.root / VIEWS_FILE
    tmp = store.root / f".{VIEWS_FILE}.{os.getpid()}.tmp"
    if tmp.exists():
        tmp.unlink()
    con = configure(duckdb.connect(str(tmp)), EngineSettings())
    try:
        executor = DuckDBExecutor(con)
        quoted_schema = quote_name(schema)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted_schema}")
        current = store.current()
        for table in (current.tables if current else {}):
            snapshot = store.snapshot(table, current)
            if snapshot is None or not snapshot.files:
                continue
            con.execute(f"CREATE VIEW {quoted_schema}.{quote_name(table)} AS {executor.relation(snapshot).sql(executor.dialect)}")
    finally:
        con.close()
    os.replace(tmp, target)
    return target
