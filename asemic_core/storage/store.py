"""The generated model on disk: immutable Parquet files per (table, day), registered in
the state store. A job writes new files, then swaps them in with one transaction; a
reader takes a snapshot of the registry and reads exactly those files, so it sees the
old or the new partition, never a mix or a half-written file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from asemic_core.jobs.lock import WriterLock
from asemic_core.jobs.log import JobLog
from asemic_core.storage.state import ColumnState, Partition, StateStore

DAILY = "daily"
USERS = "users"
ALL_DAYS = "all"  # the partition key of unpartitioned tables


class ModelStore:
    def __init__(self, root: Path, readonly: bool = False) -> None:
        """``readonly``: for plans, status and queries; creates and changes no file."""
        self.root = Path(root)
        self.readonly = readonly
        if not readonly:
            self.root.mkdir(parents=True, exist_ok=True)
        self.state = StateStore(self.root / "state.sqlite", readonly=readonly)
        self.lock = WriterLock(self.root / "writer.lock")
        self.jobs = JobLog(self.state)

    @property
    def tables_dir(self) -> Path:
        return self.root / "tables"

    @property
    def scratch_dir(self) -> Path:
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def partition_path(self, table: str, day: str, job_id: str) -> Path:
        """The directory holding one partition's files, as written by one job."""
        return self.tables_dir / table / day / job_id

    # -- reading -------------------------------------------------------------------
    def snapshot(self, table: str) -> tuple[list[Partition], dict[str, ColumnState]]:
        with self.state.reading() as con:
            return self.state.partitions(table, con), self.state.columns(table, con)

    def files(self, table: str, day_from: str | None = None, day_to: str | None = None) -> list[str]:
        parts = self.state.partitions(table)
        return [str(self.root / p.path / "*.parquet") for p in parts
                if (day_from is None or p.day >= day_from or p.day == ALL_DAYS)
                and (day_to is None or p.day <= day_to or p.day == ALL_DAYS)]

    def watermark(self) -> str | None:
        """The last materialized day."""
        return self.state.meta("watermark")

    def first_day(self) -> str | None:
        return self.state.meta("first_day")

    # -- writing (only while holding the writer lock) --------------------------------
    def commit(self, job_id: str, table: str, partitions: list[Partition], *, replace_all: bool,
               columns: list[ColumnState] | None = None, meta: dict | None = None,
               days: list[tuple[str, int, float]] | None = None, phases: dict[str, float] | None = None,
               after_swap=None) -> None:
        """Swap the new partitions in, atomically, then remove the files they replace.

        ``after_swap()`` runs between the two (e.g. rewriting the catalog's views), so
        nothing that lists files points at removed ones once this returns.
        """
        superseded: list[str] = []
        with self.state.transaction() as con:
            if replace_all:
                superseded += self.state.drop_partitions(con, table, {p.day for p in partitions})
            for part in partitions:
                old = self.state.put_partition(con, part)
                if old:
                    superseded.append(old)
            if columns is not None:
                self.state.put_columns(con, columns, replace_all_of=table if replace_all else None)
            for key, value in (meta or {}).items():
                self.state.set_meta(con, key, value)
            for day, rows, seconds in days or []:
                self.jobs.add_day(con, job_id, day, rows, seconds)
            for phase, seconds in (phases or {}).items():
                self.jobs.add_phase(con, job_id, phase, seconds)
        if after_swap is not None:
            after_swap()
        for rel in superseded:
            _remove(self.root / rel)

    def collect_garbage(self) -> int:
        """Remove files no partition refers to (left by a job that died before its commit)."""
        referenced = set()
        with self.state.reading() as con:
            for (path,) in con.execute("SELECT path FROM partitions").fetchall():
                referenced.add(str(self.root / path))
        removed = 0
        if self.tables_dir.exists():
            for path in self.tables_dir.glob("*/*/*"):  # <table>/<day>/<job>
                if str(path) not in referenced:
                    _remove(path)
                    removed += 1
            for directory in sorted(self.tables_dir.rglob("*"), reverse=True):
                if directory.is_dir() and not any(directory.iterdir()):
                    directory.rmdir()
        shutil.rmtree(self.root / "tmp", ignore_errors=True)
        return removed

    def relative(self, path: Path) -> str:
        return str(Path(path).relative_to(self.root))


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
