"""The DuckDB executor: one connection (the warehouse attached read-only, or in memory),
memory-limited and spilling to a temp directory; model tables are read from the Parquet
files of a pinned version (``read_parquet`` over the file list, the fastest way measured)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import duckdb
from sqlglot import exp

from asemic_core.backend.seam import (ROW, SnapshotGone, TableSnapshot, empty_relation, stored_column,
                                     with_column_tables)
from asemic_core.backend.settings import EngineSettings
from asemic_core.errors import WarehouseError
from asemic_core.names import sql_string_list
from asemic_core.sql.render import ENGINE_DIALECT
from asemic_core.warehouse import connect_readonly

BATCH_ROWS = 256_000


def configure(con: duckdb.DuckDBPyConnection, settings: EngineSettings) -> duckdb.DuckDBPyConnection:
    con.execute("SET memory_limit = ?", [settings.memory_limit])
    con.execute("SET temp_directory = ?", [str(settings.spill_directory())])
    con.execute("SET preserve_insertion_order = false")
    return con


@lru_cache(maxsize=256)
def _file_list(paths: tuple[str, ...]) -> str:
    """The SQL list of ``paths`` (string literals, quotes escaped), rendered once per file set:
    a 90-day query's list took ~1 ms to render with the rest of its statement."""
    return sql_string_list(paths)


def is_out_of_memory(err: BaseException) -> bool:
    return isinstance(err, duckdb.OutOfMemoryException) or "Out of Memory" in str(err)


def connect(path: Path | None, settings: EngineSettings | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse ``path`` (read-only; a DuckDB file or a directory of
    Parquet tables), or an in-memory one."""
    settings = settings or EngineSettings()
    if path is None:
        return configure(duckdb.connect(), settings)
    return configure(connect_readonly(Path(path), settings.memory_limit, settings.spill_directory()), settings)


class DuckDBExecutor:
    dialect = ENGINE_DIALECT

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def rows(self, sql: str) -> list[tuple]:
        return self.con.sql(sql).fetchall()

    def frame(self, sql: str):
        return self.con.sql(sql).pl()

    def frames(self, statements: list[str]) -> list:
        try:
            return [self.con.sql(sql).pl() for sql in statements]
        except duckdb.IOException as err:
            raise SnapshotGone(str(err).splitlines()[0]) from None
        except duckdb.Error as err:
            raise WarehouseError(f"query failed: {str(err).splitlines()[0]}") from None

    def batches(self, sql: str):
        return self.con.sql(sql).to_arrow_reader(BATCH_ROWS)

    def relation(self, snapshot: TableSnapshot, columns: Iterable[str] | None = None,
                 types: dict[str, exp.DataType] | None = None, row_numbers: bool = False) -> exp.Expression:
        """With no file (no day in range), an empty relation of the same columns (``types``:
        their types). ``row_numbers``: also ``seam.ROW``, each row's position in its file."""
        names = list(columns) if columns is not None else list(snapshot.columns)
        if not snapshot.files:
            return empty_relation([*names, ROW] if row_numbers else names, types)
        joined = None if row_numbers else with_column_tables(snapshot, names, self.relation)
        if joined is not None:
            return joined
        listed = exp.Var(this=_file_list(tuple(f.path for f in snapshot.files)))
        options = [exp.EQ(this=exp.var("hive_partitioning"), expression=exp.true() if snapshot.partition_by else exp.false())]
        if row_numbers:
            options.append(exp.EQ(this=exp.var("file_row_number"), expression=exp.true()))
        scan = exp.Anonymous(this="read_parquet", expressions=[listed, *options])
        return exp.select(*[stored_column(c, snapshot.columns) for c in names],
                          *([exp.alias_(exp.column("file_row_number"), ROW, quoted=True)] if row_numbers else [])).from_(scan)

    def stage(self, name: str, statements: list[str], append: bool = False) -> None:
        """Materialize the union of ``statements`` as a temporary table ``name`` (spills if
        large); with ``append``, add them to it."""
        table = exp.to_identifier(name, quoted=True).sql(self.dialect)
        for index, statement in enumerate(statements):
            if index == 0 and not append:
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {statement}")
            else:
                self.con.execute(f"INSERT INTO {table} {statement}")

    def unstage(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {exp.to_identifier(name, quoted=True).sql(self.dialect)}")

    @contextmanager
    def joins_as_written(self) -> Iterator[None]:
        """Queries planned inside build each hash join's table on the join's right side, as
        written, instead of the side DuckDB estimates smaller. The model query joins its
        spine (every row it computes) with smaller relations (a user's rows of each event
        table, the users): DuckDB's estimate of the spine (a DISTINCT over shifted days) is
        low, so it built three hash tables of the spine's rows; built on the event rows, a
        refresh batch at 100,000 x 180 needs 0.9 GB instead of 2.4 GB, and 13 % less CPU."""
        before = self.con.sql("SELECT current_setting('disabled_optimizers')").fetchall()[0][0] or ""
        disabled = ",".join(o for o in (before, "build_side_probe_side") if o)
        self.con.execute("SET disabled_optimizers = ?", [disabled])
        try:
            yield
        finally:
            self.con.execute("SET disabled_optimizers = ?", [before])

    def close(self) -> None:
        self.con.close()
