"""The warehouse as Spark sees it, for ``config validate``'s dry run on a Spark project:
the event tables' columns, and compile checks of the generated SQL (rendered for Spark,
as the jobs render it) on the process's Spark session. Nothing is executed: each statement
is EXPLAINed (parsed, analysed, planned), and a query's columns come from its analysed plan.

The same interface as ``asemic_core.warehouse.Warehouse`` (``columns``, ``explain``,
``describe``); Spark's type names are given upper-cased (``BIGINT``, ``DOUBLE``,
``STRING``, ``TIMESTAMP``, ``DECIMAL(10,2)``), which ``warehouse.data_type_of`` reads.
"""

from __future__ import annotations

import re

from sqlglot import exp

from asemic_core.backend.spark_executor import SparkExecutor
from asemic_core.errors import WarehouseError
from asemic_core.names import quoted_table
from asemic_core.sql.render import render
from asemic_core.warehouse import Column

PLANNING_ERROR = "Error occurred during query planning:"
_TRAILER = re.compile(r"\s*SQLSTATE: \w+;?(\s*line \d+ pos \d+;?)?\s*$")
# Spark's names of the types whose DuckDB name differs where data_type_of reads it.
_NAMES = {"VOID": "NULL", "INT": "INTEGER", "TIMESTAMP_NTZ": "TIMESTAMP"}


def spark_type_name(data_type) -> str:
    """Spark's name of a column type, upper-cased (a NULL literal's type is NULL)."""
    text = data_type.simpleString().upper()
    return _NAMES.get(text, text)


def _leaves(name: str, data_type) -> list[tuple[str, object]]:
    """``(path, type)`` of a column, one per leaf field of a (nested) struct."""
    fields = getattr(data_type, "fields", None)
    if not fields or data_type.typeName() != "struct":
        return [(name, data_type)]
    out = []
    for field in fields:
        out += _leaves(f"{name}.{field.name}", field.dataType)
    return out


class SparkWarehouse:
    """The event tables on Spark (a Parquet warehouse's directories, or the Spark catalog)."""

    def __init__(self, executor: SparkExecutor, where: str) -> None:
        self.executor = executor
        self.where = where  # which setting names the event tables (for messages)
        self._schemas: dict[str, object] = {}

    @classmethod
    def open(cls, executor: SparkExecutor, where: str) -> SparkWarehouse:
        """Starts (or reuses) the process's session now: a failure names the engine setting."""
        executor.session  # noqa: B018 - starts Spark: no Java, a master that does not answer
        return cls(executor, where)

    def close(self) -> None:
        self._schemas.clear()  # the session stays for the process's next use

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _schema(self, sql: str):
        """The analysed result's schema (cached: the dry run compiles a query, then asks its types)."""
        if sql not in self._schemas:
            spark_sql = self.executor.to_spark(sql)
            self._schemas[sql] = self.executor.session.sql(spark_sql).schema
        return self._schemas[sql]

    def columns(self, table_name: str) -> dict[str, Column] | None:
        """Columns of ``table_name`` (struct columns by their leaf paths), None if Spark has no such table."""
        sql = render(exp.select(exp.Star()).from_(quoted_table(table_name)).limit(0))
        try:
            schema = self._schema(sql)
        except Exception:  # noqa: BLE001 - AnalysisException: no such table or path
            return None
        out: dict[str, Column] = {}
        for field in schema.fields:
            for path, leaf in _leaves(field.name, field.dataType):
                out[path] = Column(path, spark_type_name(leaf))
        return out

    def explain(self, sql: str) -> str | None:
        """EXPLAIN ``sql`` on Spark (parsed, analysed and planned, not run); the error, or None."""
        try:
            plan = self.executor.session.sql("EXPLAIN " + self.executor.to_spark(sql)).collect()[0][0]
            if plan.startswith(PLANNING_ERROR):
                # EXPLAIN gives the error without its text: analysing the query again raises it.
                self._schemas.pop(sql, None)
                self._schema(sql)
                return plan.strip()
        except WarehouseError as err:
            return err.message
        except Exception as err:  # noqa: BLE001 - sqlglot's and Spark's errors: the first line is the message
            text = str(err).strip()
            # Spark's SQLSTATE and position point into the generated SQL, which the user did not write.
            return _TRAILER.sub("", text.splitlines()[0]) if text else type(err).__name__
        return None

    def describe(self, sql: str) -> dict[str, str]:
        """Column name -> Spark type of a query's result ({} if it does not compile)."""
        try:
            schema = self._schema(sql)
        except Exception:  # noqa: BLE001
            return {}
        return {field.name: spark_type_name(field.dataType) for field in schema.fields}
