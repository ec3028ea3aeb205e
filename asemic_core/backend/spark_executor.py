"""The Spark executor: the same generated SQL, rendered by sqlglot in the Spark dialect.

The planner and the jobs render their trees for the project's engine dialect (DuckDB);
this executor parses each statement once and renders it for Spark, with the rewrites
Spark needs: a Parquet warehouse's tables become ``parquet.`<dir>/<schema>/<table>```,
``CAST(UNNEST(...))`` becomes a bare ``EXPLODE`` (Spark refuses a generator inside an
expression), ``hash(x) % n`` becomes ``pmod(hash(x), n)`` (Spark's hash is signed), and
``COUNT(DISTINCT x) OVER w`` becomes ``SIZE(COLLECT_SET(x) OVER w)`` (Spark has no
distinct window aggregate). A series of days or months whose start is after its end is
empty, as in DuckDB (Spark's ``SEQUENCE`` fails on it).

Results never travel through Python on a write: ``batches`` and ``deferred`` return a
``SparkRows`` the Spark table store writes from, on the cluster.
"""

from __future__ import annotations

import contextlib

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from asemic_core.backend.seam import TableSnapshot, empty_relation, stored_column, with_column_tables
from asemic_core.backend.settings import SparkSettings
from asemic_core.backend.spark_session import spark_session
from asemic_core.errors import WarehouseError
from asemic_core.sql.render import ENGINE_DIALECT

SPARK_DIALECT = "spark"
POLL_SECONDS = 0.5


def spark_error(err: BaseException, what: str = "query failed") -> WarehouseError:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "PATH_NOT_FOUND" in text or "TABLE_OR_VIEW_NOT_FOUND" in text:
        return WarehouseError(f"a table does not exist on Spark (check warehouse.path and the events' "
                              f"table_name): {text}")
    return WarehouseError(f"Spark {what}: {text}")


@dataclass
class SparkRows:
    """The rows of ``statements`` (run on Spark when a table store writes them)."""

    executor: SparkExecutor
    statements: list[str]
    after_each: Callable[[int], None] | None = None

    def dataframe(self):
        frames = [self.executor.dataframe(sql) for sql in self.statements]
        out = frames[0]
        for more in frames[1:]:
            out = out.unionByName(more)
        return out

    def written(self) -> None:
        for index in range(len(self.statements)):
            if self.after_each is not None:
                self.after_each(index)


@dataclass
class SparkExecutor:
    settings: SparkSettings
    warehouse: str | None = None  # a Parquet warehouse directory (or URI) Spark reads the events from
    on_tasks: Callable[[int, int, str], None] | None = None  # (done, total, stage) while a write runs
    dialect: str = ENGINE_DIALECT  # what the jobs render for; to_spark renders it again for Spark
    _staged: dict[str, list[str]] = field(default_factory=dict)  # temporary view -> its statements

    @property
    def session(self):
        return spark_session(self.settings)

    # -- rendering --------------------------------------------------------------------
    def to_spark(self, sql: str) -> str:
        tree = sqlglot.parse_one(sql, read=ENGINE_DIALECT)
        tree = tree.transform(self._rewrite)
        return tree.sql(dialect=SPARK_DIALECT)

    def _rewrite(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Window) and isinstance(node.this, exp.Count) and \
                isinstance(node.this.this, exp.Distinct) and len(node.this.this.expressions) == 1:
            # Spark has no COUNT(DISTINCT x) OVER (...): the size of the window's set of values
            # (NULLs left out, as COUNT DISTINCT leaves them out; an empty frame counts 0).
            window = node.copy()
            value = node.this.this.expressions[0].copy().transform(self._rewrite)
            window.set("this", exp.Anonymous(this="COLLECT_SET", expressions=[value]))
            return exp.cast(exp.Anonymous(this="SIZE", expressions=[window]), "BIGINT")
        if isinstance(node, exp.Interval) and isinstance(node.this, exp.Paren) and _number(node.this.this) is not None:
            # DuckDB's INTERVAL (-1) DAY: Spark reads INTERVAL '-1' DAY
            return exp.Interval(this=exp.Literal.string(_number(node.this.this)), unit=node.args.get("unit"))
        if isinstance(node, exp.Cast) and isinstance(node.this, (exp.Explode, exp.Unnest)):
            return node.this.transform(self._rewrite)  # its series too (a replaced node's children are not visited)
        if isinstance(node, exp.GenerateSeries) and not node.args.get("is_end_exclusive") and node.args.get("step"):
            return _empty_when_reversed(node.transform(_skip_series(self._rewrite)))
        if isinstance(node, exp.Mod) and isinstance(node.this, exp.Anonymous) and str(node.this.this).lower() == "hash":
            return exp.func("pmod", node.this, node.expression)
        if isinstance(node, exp.Table) and self.warehouse and node.db and not node.catalog and \
                node.db.lower() not in ("parquet", "delta", "iceberg", "orc", "json", "csv"):
            location = f"{self.warehouse.rstrip('/')}/{node.db}/{node.name}"
            return exp.Table(this=exp.to_identifier(location, quoted=True), db=exp.to_identifier("parquet"),
                             alias=node.args.get("alias"))
        return node

    # -- running ----------------------------------------------------------------------
    def dataframe(self, sql: str):
        try:
            return self.session.sql(self.to_spark(sql))
        except WarehouseError:
            raise
        except Exception as err:  # noqa: BLE001 - AnalysisException, ParseException, Connect errors
            raise spark_error(err) from None

    def execute(self, sql: str) -> None:
        self.rows(sql)

    def rows(self, sql: str) -> list[tuple]:
        frame = self.dataframe(sql)
        try:
            return [tuple(row) for row in frame.collect()]
        except Exception as err:  # noqa: BLE001
            raise spark_error(err) from None

    def frame(self, sql: str):
        import polars as pl

        frame = self.dataframe(sql)
        try:
            return pl.from_arrow(frame.toArrow())
        except Exception as err:  # noqa: BLE001
            raise spark_error(err) from None

    def frames(self, statements: list[str]) -> list:
        return [self.frame(sql) for sql in statements]

    def batches(self, sql: str) -> SparkRows:
        return SparkRows(self, [sql])

    def deferred(self, statements: list[str], after_each=None) -> SparkRows:
        return SparkRows(self, list(statements), after_each)

    def relation(self, snapshot: TableSnapshot, columns: Iterable[str] | None = None,
                 types: dict[str, exp.DataType] | None = None, row_numbers: bool = False) -> exp.Expression:
        """The pinned version's days, read from each directory that holds some of them.
        ``row_numbers`` (positions in a file) is not offered: the Spark store keeps no
        activity part apart, so no column table refers to one."""
        if row_numbers:
            raise ValueError("the Spark executor reads no row positions")
        names = list(columns) if columns is not None else list(snapshot.columns)
        if not snapshot.files:
            return empty_relation(names, types)
        joined = with_column_tables(snapshot, names, self.relation)
        if joined is not None:
            return joined
        parts = []
        for directory, days in _directories(snapshot).items():
            source = exp.Table(this=exp.to_identifier(directory, quoted=True),
                               db=exp.to_identifier(self.settings.table_format))
            select = exp.select(*[exp.alias_(exp.cast(exp.column(exp.to_identifier(c, quoted=True)), "DATE"), c,
                                             quoted=True) if c == snapshot.partition_by
                                  else stored_column(c, snapshot.columns) for c in names]).from_(source)
            if snapshot.partition_by:
                column = exp.column(exp.to_identifier(snapshot.partition_by, quoted=True))
                select = select.where(exp.or_(*[exp.Between(this=column.copy(), low=_date(first), high=_date(last))
                                                for first, last in _runs(days)]))
            parts.append(select)
        out = parts[0]
        for more in parts[1:]:
            out = exp.union(out, more, distinct=False)
        return out if isinstance(out, exp.Select) else exp.select(*[exp.column(exp.to_identifier(c, quoted=True))
                                                                     for c in names]).from_(out.subquery("u"))

    def stage(self, name: str, statements: list[str], append: bool = False) -> None:
        """A temporary view of the union of ``statements`` (with ``append``, of the ones staged
        before too); Spark computes it when the query reading it runs."""
        staged = (self._staged.get(name, []) if append else []) + list(statements)
        rows = SparkRows(self, staged).dataframe()
        try:
            rows.createOrReplaceTempView(name)
        except Exception as err:  # noqa: BLE001
            raise spark_error(err) from None
        self._staged[name] = staged

    def joins_as_written(self):
        """Spark plans its joins itself (the DuckDB executor's switch has no equivalent here)."""
        return contextlib.nullcontext()

    def unstage(self, name: str) -> None:
        self.session.catalog.dropTempView(name)
        self._staged.pop(name, None)

    def close(self) -> None:
        """The session stays for the process's next job (starting one takes seconds)."""
        for name in list(self._staged):
            self.unstage(name)

    # -- progress -----------------------------------------------------------------------
    def watch(self):
        """A context manager that reports the running stages' tasks to ``on_tasks``."""
        return _TaskWatch(self)


class _TaskWatch:
    def __init__(self, executor: SparkExecutor) -> None:
        self.executor = executor
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self):
        context = getattr(self.executor.session, "sparkContext", None) if not self.executor.settings.remote else None
        if self.executor.on_tasks is not None and context is not None:
            tracker = context.statusTracker()
            self.thread = threading.Thread(target=self._poll, args=(tracker,), daemon=True)
            self.thread.start()
        return self

    def _poll(self, tracker) -> None:
        while not self.stop.wait(POLL_SECONDS):
            try:
                stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
            except Exception:  # noqa: BLE001 - the context may be stopping
                return
            stages = [s for s in stages if s is not None]
            if stages:
                done = sum(s.numCompletedTasks for s in stages)
                total = sum(s.numTasks for s in stages)
                self.executor.on_tasks(done, total, ", ".join(f"stage {s.stageId}" for s in stages))

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


SERIES_ITEM = "__asemic_item"


def _number(node: exp.Expression) -> str | None:
    """The text of a numeric literal, negated or not (None for anything else)."""
    if isinstance(node, exp.Literal) and not node.is_string:
        return node.this
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return f"-{node.this.this}"
    return None


def _skip_series(rewrite):
    """``rewrite`` for the parts of a series (not the series itself again)."""
    return lambda node: node if isinstance(node, exp.GenerateSeries) else rewrite(node)


def _empty_when_reversed(series: exp.GenerateSeries) -> exp.Expression:
    """``FILTER(SEQUENCE(start, GREATEST(start, end), step), x -> x <= end)``: DuckDB's
    generate_series from a later start to an earlier end is empty, where Spark's SEQUENCE
    raises "Illegal sequence boundaries"."""
    start, end = series.args["start"], series.args["end"]
    bounded = exp.GenerateSeries(start=start.copy(), end=exp.func("GREATEST", start.copy(), end.copy()),
                                 step=series.args["step"].copy())
    item = exp.to_identifier(SERIES_ITEM)
    keep = exp.Lambda(this=exp.LTE(this=exp.column(SERIES_ITEM), expression=end.copy()), expressions=[item])
    return exp.ArrayFilter(this=bounded, expression=keep)


def _date(day) -> exp.Expression:
    return exp.cast(exp.Literal.string(day.isoformat()), "DATE")


def _directories(snapshot: TableSnapshot) -> dict[str, list]:
    """Directory of each table version the snapshot reads -> the days it reads from it."""
    out: dict[str, list] = {}
    for f in snapshot.files:
        directory = f.path.rsplit(f"/{snapshot.partition_by}=", 1)[0] if snapshot.partition_by else f.path.rsplit("/", 1)[0]
        out.setdefault(directory, [])
        if f.day is not None and f.day not in out[directory]:
            out[directory].append(f.day)
    return out


def _runs(days: list) -> list[tuple]:
    """Sorted days as (first, last) runs of consecutive days."""
    import datetime as dt

    runs: list[list] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] == dt.timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]
