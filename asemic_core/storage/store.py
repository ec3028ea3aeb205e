"""The generated model on disk: versioned tables (Delta Lake, under ``tables/``) and the
model versions that name one version of each table (``state.sqlite``).

A job works on its own unpublished table versions (``Work``), then publishes them with
one insert: readers pin the newest model version and read exactly the files of its table
versions, so they see the old model or the new one, never a mix. Written table versions
are never changed; a job killed at any point leaves the published version whole, and the
next job first resets each table to the published version. Old versions stay readable
(``restore``) until ``vacuum`` removes the files no kept version references.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from asemic_core.backend.delta_store import DeltaTableStore
from asemic_core.backend.seam import ColumnTable, TableSnapshot, TableStore
from asemic_core.errors import JobError
from asemic_core.storage.job_log import JobLog
from asemic_core.storage.lock import WriterLock
from asemic_core.storage.state import ColumnState, ModelVersion, StateStore, now

DAILY = "daily"
USERS = "users"
# Each entity's last activity day through the table's ``state_day`` (an update continues
# from it instead of reading the activity history; jobs/user_state.py).
USER_STATE = "user_state"
# Present while every data file under ``tables/`` is one a table version added: a job that
# collected garbage and then published leaves it; the next job takes it away before it writes
# (a job killed or failed after that leaves none, so the job after it walks the tables).
NO_ORPHANS = "tables.clean"
PARTITION_BY = {DAILY: "date", USERS: None, USER_STATE: None}  # the layout: which table is partitioned by day
SPLIT_ACTIVE = {DAILY}  # tables whose activity days' rows are stored apart (seam.ACTIVE_PARTITION)
# Column tables: newer values of some daily columns on the rows they hold (the activity rows
# a partial update recomputed; seam.ColumnTable), partitioned by day. The catalog names the
# table of each column (ColumnState.table); a table no column names is no longer part of
# the model. Each is named once: the number after the prefix is never reused.
COLUMN_TABLE = "daily_columns_"
MAX_COLUMN_TABLES = 4  # a partial update that would add one more folds them into the daily table


def is_column_table(table: str) -> bool:
    return table.startswith(COLUMN_TABLE) and table[len(COLUMN_TABLE):].isdigit()


def partition_of(table: str) -> str | None:
    return "date" if is_column_table(table) else PARTITION_BY[table]


def _overrides(tables: TableStore, versions: dict[str, int], columns: dict[str, ColumnState]) -> tuple[ColumnTable, ...]:
    """The column tables of a model version, with the columns each holds."""
    held: dict[str, list[str]] = {}
    for state in columns.values():
        if state.table != DAILY and state.table in versions:
            held.setdefault(state.table, []).append(state.name)
    return tuple(ColumnTable(tables.snapshot(table, versions[table]), tuple(names))
                 for table, names in sorted(held.items(), key=lambda item: int(item[0][len(COLUMN_TABLE):])))


class ModelStore:
    def __init__(self, root: Path, readonly: bool = False, tables: TableStore | None = None) -> None:
        """``readonly``: for plans, status and queries; creates and changes no file."""
        self.root = Path(root)
        self.readonly = readonly
        if not readonly:
            self.root.mkdir(parents=True, exist_ok=True)
        self.state = StateStore(self.root / "state.sqlite", readonly=readonly)
        self.lock = WriterLock(self.root / "writer.lock")
        self.jobs = JobLog(self.state)
        self.tables = tables or DeltaTableStore(self.root / "tables")
        self._collected = False  # this writer removed the orphan files (or knew there were none)

    @property
    def scratch_dir(self) -> Path:
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- reading -------------------------------------------------------------------
    def current(self) -> ModelVersion | None:
        return self.state.current()

    def snapshot(self, table: str, version: ModelVersion | None = None) -> TableSnapshot | None:
        """``table`` as of ``version`` (default: the published one); None if it holds no such table."""
        version = version if version is not None else self.current()
        if version is None or table not in version.tables:
            return None
        snapshot = self.tables.snapshot(table, version.tables[table])
        if table == DAILY:
            return snapshot.with_overrides(_overrides(self.tables, version.tables, version.columns))
        return snapshot

    def watermark(self) -> str | None:
        """The last materialized day."""
        current = self.current()
        return current.watermark if current else None

    def first_day(self) -> str | None:
        current = self.current()
        return current.first_day if current else None

    def history(self, limit: int | None = None) -> list[ModelVersion]:
        return self.state.versions(limit)

    # -- writing (only while holding the writer lock) --------------------------------
    def begin(self, job_id: str) -> Work:
        """A job's working copy of the published version: each table is reset to the
        version published (a killed job or a restore may have left another one latest)."""
        base = self.current()
        tables: dict[str, int] = {}
        if base is not None:
            for table, version in base.tables.items():
                tables[table] = self.tables.reset(table, version)
        return Work(self, job_id, base, tables, dict(base.columns) if base else {},
                    base.first_day if base else None, base.watermark if base else None)

    def publish(self, work: Work, kind: str, *, day_from: dt.date | None = None, day_to: dt.date | None = None,
                rows: int = 0, days: list[tuple[str, int, float]] | None = None,
                phases: dict[str, float] | None = None, restored_from: int | None = None) -> ModelVersion:
        """Make the job's table versions the model, in one commit (without the column tables
        no column is stored in any more)."""
        named = {state.table for state in work.columns.values()}
        tables = {table: number for table, number in work.tables.items() if not is_column_table(table) or table in named}
        version = ModelVersion(0, work.job_id, kind, now(), tables, dict(work.columns), work.first_day,
                               work.watermark, day_from.isoformat() if day_from else None,
                               day_to.isoformat() if day_to else None, tuple(dict.fromkeys(work.written)), rows,
                               time.monotonic() - work.started, restored_from)
        with self.state.transaction() as con:
            number = self.state.insert_version(con, version)
            for day, count, seconds in days or []:
                self.jobs.add_day(con, work.job_id, day, count, seconds)
            for phase, seconds in (phases or {}).items():
                self.jobs.add_phase(con, work.job_id, phase, seconds)
        if self._collected:  # no file left unreferenced: the next job need not walk the tables
            (self.root / NO_ORPHANS).touch()
            self._collected = False
        return replace(version, version=number)

    def collect_garbage(self) -> int:
        """Remove files no table version references (left by a job killed while writing).
        Each table's files and commits are walked unless the last writer published after
        collecting (``NO_ORPHANS``), which this takes away: the job about to write may be killed."""
        shutil.rmtree(self.root / "tmp", ignore_errors=True)
        self._collected = True
        try:
            (self.root / NO_ORPHANS).unlink()
            return 0
        except FileNotFoundError:
            return self._drop_unnamed_column_tables() + self.tables.remove_unreferenced({}, orphans_only=True)

    def _drop_unnamed_column_tables(self) -> int:
        """Delete the column tables no model version names (a killed job's); the files removed."""
        unnamed = set(self.column_tables_on_disk())
        if unnamed:
            unnamed -= {t for v in self.state.versions() for t in v.tables}
        return sum(self._drop(table) for table in sorted(unnamed))

    def _drop(self, table: str) -> int:
        """Delete a table (a column table no version to keep names); its data files removed."""
        location = self.tables.location(table)
        removed = sum(1 for _ in Path(location).rglob("*.parquet")) if "://" not in str(location) else 0
        self.tables.drop(table)
        return removed

    def restore(self, job_id: str, number: int) -> ModelVersion:
        """Publish version ``number`` again, as a new version (a restore can be undone in turn)."""
        target = self.state.version(number)
        if target is None:
            raise JobError(f"there is no model version {number} (see `asemic-cli model history`)")
        if target.vacuumed:
            raise JobError(f"model version {number} was vacuumed: its files are gone")
        work = Work(self, job_id, self.current(), dict(target.tables), dict(target.columns), target.first_day,
                    target.watermark)
        for table, version in target.tables.items():
            self.tables.snapshot(table, version)  # every file list still opens
        return self.publish(work, "restore", restored_from=number)

    def vacuum(self, keep_days: float) -> tuple[int, list[int]]:
        """Forget versions older than ``keep_days`` (never the published one) and delete the
        files no kept version references; (files removed, versions dropped)."""
        cutoff = now() - keep_days * 86400
        versions = self.state.versions()
        current = versions[0].version if versions else None
        kept = [v for v in versions if not v.vacuumed and (v.version == current or v.created_at >= cutoff)]
        dropped = [v.version for v in versions if not v.vacuumed and v not in kept]
        with self.state.transaction() as con:
            for number in dropped:
                con.execute("UPDATE model_versions SET vacuumed = 1 WHERE version = ?", (number,))
        keep: dict[str, set[int]] = {}
        for version in kept:
            for table, number in version.tables.items():
                keep.setdefault(table, set()).add(number)
        shutil.rmtree(self.root / "tmp", ignore_errors=True)
        # a column table no kept version names (or a killed job's) goes whole
        removed = sum(self._drop(table) for table in self.column_tables_on_disk() if table not in keep)
        return removed + self.tables.remove_unreferenced(keep, orphans_only=False), dropped

    def column_tables_on_disk(self) -> list[str]:
        return [t for t in self.tables.names() if is_column_table(t)]

    def new_column_table(self) -> str:
        """A column table name no table on disk or version ever had."""
        used = [int(t[len(COLUMN_TABLE):]) for t in self.column_tables_on_disk()]
        used += [int(t[len(COLUMN_TABLE):]) for v in self.state.versions() for t in v.tables if is_column_table(t)]
        return f"{COLUMN_TABLE}{max(used, default=0) + 1}"


@dataclass
class Work:
    """A job's unpublished model: the table versions it wrote, the column states and days."""

    store: ModelStore
    job_id: str
    base: ModelVersion | None
    tables: dict[str, int]
    columns: dict[str, ColumnState]
    first_day: str | None
    watermark: str | None
    written: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def snapshot(self, table: str) -> TableSnapshot | None:
        if table not in self.tables:
            return None
        snapshot = self.store.tables.snapshot(table, self.tables[table])
        if table == DAILY:
            return snapshot.with_overrides(_overrides(self.store.tables, self.tables, self.columns))
        return snapshot

    def column_tables(self) -> list[str]:
        """The column tables of this job's model (those some column is stored in)."""
        named = {state.table for state in self.columns.values()}
        return [t for t in self.tables if is_column_table(t) and t in named]

    def merge_column_tables(self) -> None:
        """Every column is in the daily table again (a write of the whole table, or of its
        activity part, read the column tables' values)."""
        self.columns = {name: replace(state, table=DAILY) for name, state in self.columns.items()}

    def clear_days(self, first: dt.date, last: dt.date) -> None:
        """Remove days ``first`` .. ``last`` from the column tables: the daily table's rows of
        those days were just written with every column. A column table left with no row is
        no longer used (its columns are the daily table's)."""
        for table in self.column_tables():
            snapshot = self.store.tables.snapshot(table, self.tables[table])
            if not any(f.day is not None and first <= f.day <= last for f in snapshot.files):
                continue
            self.tables[table] = self.store.tables.delete_days(table, first, last)
            if not self.store.tables.snapshot(table, self.tables[table]).files:
                self.columns = {name: replace(state, table=DAILY) if state.table == table else state
                                for name, state in self.columns.items()}

    def write(self, table: str, batches, replace_days: tuple[dt.date, dt.date] | None = None,
              replace_schema: bool = False, append: bool = False, replace_active: bool = False) -> TableSnapshot:
        """Replace the table (or the days ``replace_days``, or its activity part), or
        ``append`` rows to it."""
        self.tables[table] = self.store.tables.write(table, batches, partition_by=partition_of(table),
                                                     replace_days=replace_days, replace_schema=replace_schema,
                                                     append=append, split_active=table in SPLIT_ACTIVE,
                                                     replace_active=replace_active)
        return self.snapshot(table)

    def set_columns(self, states: list[ColumnState], replace_all: bool = False, drop: list[str] = ()) -> None:
        """Record the columns' new states. A state naming the daily table keeps a column in
        the column table it is in (unless ``replace_all``): the job wrote some days of it
        into the daily table, and took those days out of the column tables (``clear_days``)."""
        before = {} if replace_all else self.columns
        if replace_all:
            self.columns = {}
        for name in drop:
            self.columns.pop(name, None)
        for state in states:
            old = before.get(state.name)
            if state.table == DAILY and old is not None and old.table != DAILY:
                state = replace(state, table=old.table)
            self.columns[state.name] = state
        self.written += [s.name for s in states]
