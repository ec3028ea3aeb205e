"""Read-only access to the analyst's warehouse (a DuckDB file by default)."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from asemic_core.config.models import DataType
from asemic_core.errors import WarehouseError
from asemic_core.names import quote_name, quoted_table, sql_string

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


def _leaves(name: str, column_type) -> list[tuple[str, object]]:
    """``(path, type)`` of a column, one per leaf field of a (nested) STRUCT."""
    if column_type.id != "struct":
        return [(name, column_type)]
    out = []
    for field_name, field_type in column_type.children:
        out += _leaves(f"{name}.{field_name}", field_type)
    return out


@dataclass(frozen=True)
class Column:
    name: str
    warehouse_type: str

    @property
    def data_type(self) -> DataType | None:
        return data_type_of(self.warehouse_type)


def parquet_tables(directory: Path) -> dict[tuple[str, str], Path]:
    """The event tables of a Parquet warehouse: ``<dir>/<schema>/<table>/`` holding Parquet files."""
    found: dict[tuple[str, str], Path] = {}
    for schema in sorted(p for p in Path(directory).iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        for table in sorted(p for p in schema.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            if any(table.rglob("*.parquet")):
                found[(schema.name, table.name)] = table
    return found


def connect_parquet(directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with one view per Parquet table of ``directory`` (the events
    a Spark project reads; DuckDB reads the same files)."""
    con = duckdb.connect()
    for (schema, table), location in parquet_tables(directory).items():
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_name(schema)}")
        glob = sql_string(str(location / "**" / "*.parquet"))
        con.execute(f"CREATE VIEW {quote_name(schema)}.{quote_name(table)} AS SELECT * FROM "
                    f"read_parquet({glob}, hive_partitioning = true)")
    return con


def connect_readonly(path: Path, memory_limit: str | None = None,
                     temp_directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only (a DuckDB file, or a directory of Parquet tables), with a
    memory limit (default 4GB or $ASEMIC_MEMORY_LIMIT) and a spill directory (default:
    under the system's temp dir)."""
    if not path.is_file() and not path.is_dir():
        raise WarehouseError(f"warehouse file {path} does not exist")
    if "\\" in str(path) and os.sep == "/":
        raise WarehouseError(f"cannot open warehouse {path}: DuckDB reads a backslash in a path as a directory "
                             "separator; move the project (or the warehouse) to a path without '\\'")
    try:
        con = connect_parquet(path) if path.is_dir() else duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        raise WarehouseError(f"cannot open warehouse {path}: {err}") from None
    con.execute("SET memory_limit = ?", [memory_limit or os.environ.get("ASEMIC_MEMORY_LIMIT") or MEMORY_LIMIT])
    con.execute("SET temp_directory = ?", [str(temp_directory or Path(tempfile.gettempdir()) / "asemic-spill")])
    return con


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
        """Columns of ``table``, ``schema.table`` or ``catalog.schema.table``, None if it does
        not exist. A STRUCT column is listed by its leaf paths (``level_started.level``),
        the way wide event tables are declared."""

        query = f"SELECT * FROM {quoted_table(table_name).sql(dialect='duckdb')} LIMIT 0"
        try:
            relation = self.con.sql(query)
            names, types = relation.columns, relation.types
        except duckdb.Error:
            return None
        out: dict[str, Column] = {}
        for name, column_type in zip(names, types):
            for path, leaf in _leaves(name, column_type):
                out[path] = Column(path, str(leaf))
        return out

    def explain(self, sql: str) -> str | None:
        """Compile ``sql`` without running it; the error message, or None when it compiles."""
        try:
            self.con.execute(f"EXPLAIN {sql}").fetchall()
        except duckdb.Error as err:
            return str(err).split("\n")[0]
        return None

    def describe(self, sql: str) -> dict[str, str]:
        """Column name -> DuckDB type of a query's result, without running it ({} if it does
        not compile)."""
        try:
            rows = self.con.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.Error:
            return {}
        return {row[0]: row[1] for row in rows}

    def sample(self, table_name: str, limit: int = 20):
        from sqlglot import exp

        query = exp.select("*").from_(quoted_table(table_name)).limit(limit).sql(dialect="duckdb")
        return self.con.sql(query).pl()
