"""Read-only access to the analyst's warehouse (a DuckDB file by default)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from asemic_core.config.models import DataType
from asemic_core.errors import WarehouseError
from asemic_core.names import quoted_table

MEMORY_LIMIT = "4GB"

_TYPE_MAP = [
    (re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|INT\d*)$"), DataType.INTEGER),
    (re.compile(r"^(DOUBLE|FLOAT|REAL|DECIMAL.*|NUMERIC.*)$"), DataType.NUMBER),
    (re.compile(r"^(VARCHAR.*|TEXT|STRING|UUID|ENUM.*)$"), DataType.STRING),
    (re.compile(r"^DATE$"), DataType.DATE),
    (re.compile(r"^(TIMESTAMP.*|DATETIME)$"), DataType.DATETIME),
    (re.compile(r"^BOOL(EAN)?$"), DataType.BOOLEAN),
]

# Which declared data types a warehouse column type can serve (a date column can be
# read as a DATE; an INTEGER column can be read as a NUMBER, not the other way round).
COMPATIBLE: dict[DataType, set[DataType]] = {
    DataType.NUMBER: {DataType.NUMBER, DataType.INTEGER},
    DataType.INTEGER: {DataType.INTEGER},
    DataType.STRING: {DataType.STRING},
    DataType.DATE: {DataType.DATE},
    DataType.DATETIME: {DataType.DATETIME},
    DataType.BOOLEAN: {DataType.BOOLEAN},
}


def data_type_of(duckdb_type: str) -> DataType | None:
    text = duckdb_type.strip().upper()
    for pattern, data_type in _TYPE_MAP:
        if pattern.match(text):
            return data_type
    return None


@dataclass(frozen=True)
class Column:
    name: str
    warehouse_type: str

    @property
    def data_type(self) -> DataType | None:
        return data_type_of(self.warehouse_type)


def connect_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    if not path.is_file() and not path.is_dir():
        raise WarehouseError(f"warehouse file {path} does not exist")
    if "\\" in str(path) and os.sep == "/":
        raise WarehouseError(f"cannot open warehouse {path}: DuckDB reads a backslash in a path as a directory "
                             "separator; move the project (or the warehouse) to a path without '\\'")
    from asemic_core.backend.duckdb_executor import connect
    from asemic_core.backend.settings import EngineSettings

    return connect(path, EngineSettings(os.environ.get("ASEMIC_MEMORY_LIMIT") or MEMORY_LIMIT))


class Warehouse:
    """A read-only view of the warehouse: tables, columns, and compile checks."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._con: duckdb.DuckDBPyConnection | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = connect_readonly(self.path)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def tables(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1, 2"
        ).fetchall()
        return [f"{schema}.{name}" if schema != "main" else name for schema, name in rows]

    def columns(self, table_name: str) -> dict[str, Column] | None:
        """Columns of ``schema.table`` (or ``table`` in main), None if it does not exist."""
        parts = table_name.split(".")
        schema, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("main", parts[0])
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
        if not rows:
            return None
        return {column: Column(column, dtype) for column, dtype in rows}

    def explain(self, sql: str) -> str | None:
        """Compile ``sql`` without running it; the error message, or None when it compiles."""
        try:
            self.con.execute(f"EXPLAIN {sql}").fetchall()
        except duckdb.Error as err:
            return str(err).split("\n")[0]
        return None

    def sample(self, table_name: str, limit: int = 20):
        from sqlglot import exp

        query = exp.select("*").from_(quoted_table(table_name)).limit(limit).sql(dialect="duckdb")
        return self.con.sql(query).pl()
