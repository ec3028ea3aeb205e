"""A DuckDB catalog file with views over the current partitions, so analysts can
``SELECT * FROM <data_model_schema>.daily`` from any DuckDB client."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from asemic_core.names import quote_name, sql_string_list
from asemic_core.semantic.model import ResolvedProject
from asemic_core.storage.store import DAILY, USERS, ModelStore

CATALOG_FILE = "catalog.duckdb"


def write_catalog(store: ModelStore, project: ResolvedProject) -> Path:
    schema = project.entity.model_schema if project.entity else "asemic_model"
    target = store.root / CATALOG_FILE
    tmp = store.root / f".{CATALOG_FILE}.{os.getpid()}.tmp"
    if tmp.exists():
        tmp.unlink()
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_name(schema)}")
        for table in (DAILY, USERS):
            files = store.files(table)
            if not files:
                continue
            con.execute(f"CREATE VIEW {quote_name(schema)}.{quote_name(table)} AS "
                        f"SELECT * FROM read_parquet({sql_string_list(files)})")
    finally:
        con.close()
    os.replace(tmp, target)
    return target
