"""The two interfaces every job and query goes through (see the package docstring).

A table store keeps named, versioned tables; a version never changes once written, so a
reader that pinned it reads the same rows whatever a writer does later. The executor
reads a pinned version through ``relation`` and runs the generated SQL (rendered for
its ``dialect``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlglot import exp


# A day's rows of the daily table are stored in two partitions: the rows of users active
# that day or registered that day (days_since_last_active = 0 or cohort_day = 0), and the
# others. Queries that see only those days (activity KPIs, registrations) read the first
# part alone: about a sixth of the stored rows at 1,000,000 x 365. The partition column is
# physical: readers never list it among a table's columns, and still filter on the columns.
ACTIVE_PARTITION = "__active"
ACTIVE_WHEN_ZERO = ("days_since_last_active", "cohort_day")


class SnapshotGone(Exception):
    """A file of a pinned table version was removed (a vacuum ran): plan the read again."""


@dataclass(frozen=True)
class TableFile:
    path: str
    rows: int
    size: int
    day: dt.date | None  # the partition's day; None for an unpartitioned table
    active: bool | None = None  # the activity part (ACTIVE_PARTITION) or not; None: not split


@dataclass(frozen=True)
class ColumnTable:
    """A table holding newer values of some of another table's columns (``columns``) on the
    rows it has (``DATE`` and ``ROW`` name a row of the other table's activity part): those
    rows read its values, the others the table's own (a partial update of activity columns
    writes those columns alone; jobs/partial_active.py)."""

    snapshot: "TableSnapshot"
    columns: tuple[str, ...]


DATE = "date"
# A column table's rows: the day, the row's position in that day's one file of the
# activity part, and the columns' values.
ROW = "__row"
PRESENT = "__present"


@dataclass(frozen=True)
class TableSnapshot:
    """One version of one table: its files, their partition days, its column names, and
    the column tables whose values replace some of its columns' (``overrides``)."""

    name: str
    location: str
    version: int
    columns: tuple[str, ...]
    partition_by: str | None
    files: tuple[TableFile, ...] = field(default=())
    overrides: tuple[ColumnTable, ...] = field(default=())

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def rows_by_day(self) -> dict[dt.date, int]:
        out: dict[dt.date, int] = {}
        for f in self.files:
            if f.day is not None:
                out[f.day] = out.get(f.day, 0) + f.rows
        return dict(sorted(out.items()))

    def between(self, day_from: dt.date | None, day_to: dt.date | None) -> TableSnapshot:
        """The same version restricted to the files of days ``day_from .. day_to``."""
        def kept(f: TableFile) -> bool:
            return f.day is None or ((day_from is None or f.day >= day_from) and (day_to is None or f.day <= day_to))

        return self._keeping((f for f in self.files if kept(f)), tuple(
            ColumnTable(o.snapshot._keeping(f for f in o.snapshot.files if kept(f)), o.columns) for o in self.overrides))

    def _keeping(self, files, overrides: tuple[ColumnTable, ...] | None = None) -> TableSnapshot:
        return TableSnapshot(self.name, self.location, self.version, self.columns, self.partition_by, tuple(files),
                             self.overrides if overrides is None else overrides)

    def with_overrides(self, overrides: tuple[ColumnTable, ...]) -> TableSnapshot:
        return self._keeping(self.files, tuple(overrides))

    def plain(self) -> TableSnapshot:
        """The table's own files, without the column tables."""
        return self._keeping(self.files, ())

    @property
    def split(self) -> bool:
        """Whether the rows are split by activity (each file's ``active`` says which part)."""
        return any(f.active is not None for f in self.files)

    def active_only(self) -> TableSnapshot:
        """The files that hold the rows of activity and registration days (all files when the
        table is not split): a reader still filters on days_since_last_active = 0 or cohort_day = 0."""
        if not self.split:
            return self
        return self._keeping(f for f in self.files if f.active)

    def other_part(self) -> TableSnapshot:
        """The files of the rows outside the activity part (none when the table is not split;
        column tables hold activity rows only, so none of them)."""
        return self._keeping((f for f in self.files if f.active is False), ())


class Executor(Protocol):
    """Runs SQL of one dialect. Statements are generated by sqlglot and rendered for ``dialect``."""

    dialect: str

    def execute(self, sql: str) -> None: ...

    def rows(self, sql: str) -> list[tuple]: ...

    def frame(self, sql: str):  # a polars DataFrame
        ...

    def batches(self, sql: str) -> Any:  # an Arrow stream (RecordBatchReader) of the result
        ...

    def relation(self, snapshot: TableSnapshot, columns: Iterable[str] | None = None,
                 types: dict[str, exp.DataType] | None = None, row_numbers: bool = False) -> exp.Expression:
        """A query reading ``columns`` (default: all) of the pinned ``snapshot``, with the
        values of its column tables; ``row_numbers``: the files' own rows only, and ``ROW``,
        each row's position in its file (an executor whose store has no activity part
        need not offer it)."""
        ...

    def stage(self, name: str, statements: list[str], append: bool = False) -> None:
        """Materialize the union of ``statements`` as a temporary table ``name`` (or add to it)."""
        ...

    def unstage(self, name: str) -> None: ...

    def joins_as_written(self) -> AbstractContextManager:
        """A context in which the engine builds each hash join on the side the query names
        (the model query's smaller relations), where it can be told to."""
        ...

    def frames(self, statements: list[str]) -> list:
        """Run ``statements``; raises ``SnapshotGone`` when a file of the read version was removed."""
        ...

    def close(self) -> None: ...


class TableStore(Protocol):
    """Named versioned tables. Only the job holding the writer lock writes."""

    def latest(self, table: str) -> int | None: ...

    def snapshot(self, table: str, version: int) -> TableSnapshot: ...

    def write(self, table: str, data: Any, *, partition_by: str | None, replace_days: tuple[dt.date, dt.date] | None,
              replace_schema: bool, append: bool = False, split_active: bool = False,
              replace_active: bool = False) -> int:
        """Write an Arrow stream: replace the rows of days ``replace_days`` (inclusive), or the
        whole table when None, or (``append``) add the rows to the table; return the new version.
        ``split_active``: store activity and registration days' rows apart (``ACTIVE_PARTITION``) where the
        store can; a store that cannot, or a table written before without the split, ignores it.
        ``replace_active``: replace only the activity part (of a split table), keeping the
        stored schema."""
        ...

    def reset(self, table: str, version: int) -> int:
        """Make ``version`` the table's latest content again (as a new version); return it."""
        ...

    def remove_unreferenced(self, keep: dict[str, set[int]], orphans_only: bool) -> int:
        """Delete files that no kept version references (or, with ``orphans_only``, that no
        version at all references: the leftovers of a writer that died); the count."""
        ...

    def delete_days(self, table: str, first: dt.date, last: dt.date) -> int:
        """A new version of a table partitioned by day without the days ``first`` .. ``last``
        (their files leave the version; nothing is rewritten); return it."""
        ...

    def names(self) -> list[str]:
        """The tables stored."""
        ...

    def drop(self, table: str) -> None:
        """Delete a table no kept model version names (its files and versions)."""
        ...

    def location(self, table: str): ...


NEXT_DAY_PREFIX = "__next_"  # sql/sparse.py NEXT_DAY: a window's value on the day after the row


def stored_column(name: str, columns: Iterable[str]) -> exp.Expression:
    """The column ``name`` of a table of ``columns``, as a relation reads it. A window's
    next-day value that the table does not store (a dense table, or one written before the
    column existed: it stores every change day of the window) is the window's own value."""
    if name not in columns and name.startswith(NEXT_DAY_PREFIX) and name[len(NEXT_DAY_PREFIX):] in columns:
        return exp.alias_(exp.column(exp.to_identifier(name[len(NEXT_DAY_PREFIX):], quoted=True)), name, quoted=True)
    return exp.column(exp.to_identifier(name, quoted=True))


def empty_relation(names: list[str], types: dict[str, exp.DataType] | None = None) -> exp.Expression:
    """A relation with the columns ``names`` and no row (a pinned version with no file in range);
    ``types`` gives the columns' types where known, else they are untyped NULLs."""
    types = types or {}
    return exp.select(*[exp.alias_(exp.cast(exp.Null(), types[c]) if c in types else exp.Null(), c, quoted=True)
                        for c in names]).where(exp.false())


def with_column_tables(snapshot: TableSnapshot, names: list[str], read) -> exp.Expression | None:
    """``names`` of ``snapshot`` with the values of its column tables where they have the
    row, or None when no column of ``names`` is in a column table. ``read(snapshot,
    columns, row_numbers=False)`` is the executor's relation of one table's own files
    (``row_numbers``: with ``ROW``, each row's position in its file).

    A column table's row names its day and its position in the day's one file of the
    activity part (``ROW``): matching on two integers instead of the keys costs a 90-day
    DAU at 100,000 x 180 28 ms instead of 44 (10 ms without a column table)."""
    used = [(index, o) for index, o in enumerate(snapshot.overrides) if set(o.columns) & set(names)]
    if not used:
        return None
    # column tables hold rows of the activity part only, of the days they have: the other
    # files are read as they are (a KPI over the recent population reads six times as many
    # rows as the activity part holds at 1,000,000 x 365)
    days = {f.day for _index, o in used for f in o.snapshot.files}
    joined = [f for f in snapshot.files if f.active and f.day in days]
    rest = [f for f in snapshot.files if not (f.active and f.day in days)]
    if not joined:
        return read(snapshot.plain(), names)
    own = list(dict.fromkeys([DATE, *names]))
    source = exp.alias_(exp.Subquery(this=read(snapshot.plain()._keeping(joined), own, row_numbers=True)), "t",
                        table=True, copy=False)

    def column(name: str, table: str) -> exp.Column:
        return exp.column(exp.to_identifier(name, quoted=True), table=exp.to_identifier(table))

    supplied: dict[str, str] = {}
    joins = []
    for index, override in used:
        alias = f"c{index}"
        columns = [c for c in override.columns if c in names]
        supplied.update({c: alias for c in columns})
        rows = exp.select(*[exp.column(exp.to_identifier(c, quoted=True)) for c in (DATE, ROW, *columns)],
                          exp.alias_(exp.true(), PRESENT, quoted=True)).from_(
            exp.alias_(exp.Subquery(this=read(override.snapshot, [DATE, ROW, *columns])), "r", table=True, copy=False))
        joins.append((exp.alias_(exp.Subquery(this=rows), alias, table=True, copy=False), alias))
    outputs = []
    for name in names:
        alias = supplied.get(name)
        outputs.append(column(name, "t") if alias is None else exp.alias_(exp.Case(ifs=[exp.If(
            this=exp.Not(this=exp.Is(this=column(PRESENT, alias), expression=exp.Null())), true=column(name, alias))],
            default=column(name, "t")), name, quoted=True))
    select = exp.select(*outputs).from_(source)
    for table, alias in joins:
        select = select.join(table, join_type="LEFT", on=exp.and_(
            *[exp.EQ(this=column(k, "t"), expression=column(k, alias)) for k in (DATE, ROW)]))
    if not rest:
        return select
    both = exp.union(select, read(snapshot.plain()._keeping(rest), names), distinct=False)
    return exp.select(*[exp.column(exp.to_identifier(c, quoted=True)) for c in names]).from_(both.subquery("u"))
