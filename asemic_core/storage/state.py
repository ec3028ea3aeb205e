"""The model's state: which file holds which partition, which column was computed under
which definition, and the job log. SQLite in WAL mode, so the app, the CLI and the
scheduler can read and write it from several processes at once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS partitions (
    tbl TEXT NOT NULL, day TEXT NOT NULL, path TEXT NOT NULL, rows INTEGER NOT NULL,
    job_id TEXT NOT NULL, PRIMARY KEY (tbl, day)
);
CREATE TABLE IF NOT EXISTS columns (
    tbl TEXT NOT NULL, name TEXT NOT NULL, data_type TEXT NOT NULL, def_hash TEXT NOT NULL,
    first_day TEXT, last_day TEXT, job_id TEXT NOT NULL, PRIMARY KEY (tbl, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, args TEXT NOT NULL, config_hash TEXT NOT NULL,
    origin TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL,
    finished_at REAL, progress REAL NOT NULL DEFAULT 0, message TEXT, error TEXT, pid INTEGER
);
CREATE TABLE IF NOT EXISTS job_days (
    job_id TEXT NOT NULL, day TEXT NOT NULL, rows INTEGER NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (job_id, day)
);
CREATE TABLE IF NOT EXISTS job_phases (
    job_id TEXT NOT NULL, phase TEXT NOT NULL, seconds REAL NOT NULL, PRIMARY KEY (job_id, phase)
);
"""


@dataclass(frozen=True)
class Partition:
    table: str
    day: str
    path: str
    rows: int
    job_id: str


@dataclass(frozen=True)
class ColumnState:
    table: str
    name: str
    data_type: str
    def_hash: str
    first_day: str | None
    last_day: str | None
    job_id: str


class StateStore:
    """The state database. ``readonly`` never creates or changes a file: before the first
    job it reads as empty; a reading connection that closes last removes SQLite's WAL
    side files, so the directory is left byte-identical."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            return self._connect_readonly()
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA busy_timeout=30000")
        return con

    def _connect_readonly(self) -> sqlite3.Connection:
        if not self.path.is_file():
            con = sqlite3.connect(":memory:", isolation_level=None)
            con.executescript(SCHEMA)
            return con
        # Not ``mode=ro``: a read-only connection leaves the -wal/-shm files behind.
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA query_only=ON")
        return con

    @contextmanager
    def transaction(self):
        if self.readonly:
            raise RuntimeError("a read-only state store cannot write")
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @contextmanager
    def reading(self):
        """A consistent snapshot for several reads."""
        con = self._connect()
        try:
            con.execute("BEGIN")
            yield con
            con.execute("COMMIT")
        finally:
            con.close()

    # -- reads ---------------------------------------------------------------------
    def partitions(self, table: str, con: sqlite3.Connection | None = None) -> list[Partition]:
        def run(c):
            rows = c.execute("SELECT tbl, day, path, rows, job_id FROM partitions WHERE tbl = ? ORDER BY day",
                             (table,)).fetchall()
            return [Partition(*row) for row in rows]

        if con is not None:
            return run(con)
        with self.reading() as c:
            return run(c)

    def columns(self, table: str, con: sqlite3.Connection | None = None) -> dict[str, ColumnState]:
        def run(c):
            rows = c.execute("SELECT tbl, name, data_type, def_hash, first_day, last_day, job_id FROM columns "
                             "WHERE tbl = ?", (table,)).fetchall()
            return {row[1]: ColumnState(*row) for row in rows}

        if con is not None:
            return run(con)
        with self.reading() as c:
            return run(c)

    def meta(self, key: str, default=None):
        with self.reading() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # -- writes (inside a transaction) ---------------------------------------------
    @staticmethod
    def set_meta(con: sqlite3.Connection, key: str, value) -> None:
        con.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value, default=str)))

    @staticmethod
    def put_partition(con: sqlite3.Connection, part: Partition) -> str | None:
        """Register a partition file; returns the path it replaces, if any."""
        old = con.execute("SELECT path FROM partitions WHERE tbl = ? AND day = ?", (part.table, part.day)).fetchone()
        con.execute("INSERT INTO partitions(tbl, day, path, rows, job_id) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(tbl, day) DO UPDATE SET path = excluded.path, rows = excluded.rows, "
                    "job_id = excluded.job_id", (part.table, part.day, part.path, part.rows, part.job_id))
        return old[0] if old and old[0] != part.path else None

    @staticmethod
    def drop_partitions(con: sqlite3.Connection, table: str, keep_days: set[str]) -> list[str]:
        rows = con.execute("SELECT day, path FROM partitions WHERE tbl = ?", (table,)).fetchall()
        dropped = [path for day, path in rows if day not in keep_days]
        for day, _path in rows:
            if day not in keep_days:
                con.execute("DELETE FROM partitions WHERE tbl = ? AND day = ?", (table, day))
        return dropped

    @staticmethod
    def put_columns(con: sqlite3.Connection, columns: list[ColumnState], replace_all_of: str | None = None) -> None:
        if replace_all_of is not None:
            con.execute("DELETE FROM columns WHERE tbl = ?", (replace_all_of,))
        for column in columns:
            con.execute("INSERT INTO columns(tbl, name, data_type, def_hash, first_day, last_day, job_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(tbl, name) DO UPDATE SET "
                        "data_type = excluded.data_type, def_hash = excluded.def_hash, first_day = excluded.first_day, "
                        "last_day = excluded.last_day, job_id = excluded.job_id",
                        (column.table, column.name, column.data_type, column.def_hash, column.first_day,
                         column.last_day, column.job_id))


def now() -> float:
    return time.time()
