"""The model's state: the published model versions (which version of each table, which
column was computed under which definition), the job log and small settings. SQLite in
WAL mode, so the app, the CLI and the scheduler can read and write it from several
processes at once; publishing a version is one insert, so it is atomic.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    version INTEGER PRIMARY KEY, job_id TEXT NOT NULL, kind TEXT NOT NULL, created_at REAL NOT NULL,
    tables TEXT NOT NULL, columns TEXT NOT NULL, first_day TEXT, watermark TEXT,
    day_from TEXT, day_to TEXT, written TEXT NOT NULL, rows INTEGER NOT NULL, seconds REAL NOT NULL,
    restored_from INTEGER, vacuumed INTEGER NOT NULL DEFAULT 0
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
class ColumnState:
    """Which definition (hash) a stored column was computed with, over which days."""

    table: str
    name: str
    data_type: str
    def_hash: str
    first_day: str | None
    last_day: str | None
    job_id: str


@dataclass(frozen=True)
class ModelVersion:
    """One published model version: the table versions it names and the job that made it."""

    version: int
    job_id: str
    kind: str  # refresh, update, partial, rewind, restore
    created_at: float
    tables: dict[str, int]
    columns: dict[str, ColumnState]
    first_day: str | None
    watermark: str | None
    day_from: str | None  # the days the job wrote
    day_to: str | None
    written: tuple[str, ...]  # the columns the job wrote
    rows: int  # rows the job wrote
    seconds: float
    restored_from: int | None = None
    vacuumed: bool = False

    def to_dict(self) -> dict:
        return {"version": self.version, "job_id": self.job_id, "kind": self.kind, "created_at": self.created_at,
                "range": [self.day_from, self.day_to] if self.day_from else None, "columns": list(self.written),
                "rows": self.rows, "duration": round(self.seconds, 3), "first_day": self.first_day,
                "watermark": self.watermark, "tables": dict(self.tables), "restored_from": self.restored_from,
                "restorable": not self.vacuumed}


_VERSION_COLUMNS = ("version, job_id, kind, created_at, tables, columns, first_day, watermark, day_from, day_to, "
                    "written, rows, seconds, restored_from, vacuumed")


def _version(row) -> ModelVersion:
    (version, job_id, kind, created, tables, columns, first, watermark, day_from, day_to, written, rows, seconds,
     restored, vacuumed) = row
    states = {name: ColumnState(*values) for name, values in json.loads(columns).items()}
    return ModelVersion(version, job_id, kind, created, json.loads(tables), states, first, watermark, day_from, day_to,
                        tuple(json.loads(written)), rows, seconds, restored, bool(vacuumed))


class StateStore:
    """The state database. ``readonly`` never creates or changes a file: before the first
    job it reads as empty; a reading connection that closes last removes SQLite's WAL
    side files, so the directory is left byte-identical."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._kept = threading.local()  # the connection ``keep_open`` keeps, per thread
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
    def keep_open(self):
        """Within (this thread): the transactions and reads of a writable store share one
        connection (a job opens a dozen: ~0.3 ms each), closed at the end."""
        if self.readonly or self._kept_connection() is not None:
            yield
            return
        self._kept.con, self._kept.pid = self._connect(), os.getpid()
        try:
            yield
        finally:
            con, self._kept.con = self._kept.con, None
            con.close()

    def _kept_connection(self) -> sqlite3.Connection | None:
        if getattr(self._kept, "pid", None) != os.getpid():  # a forked child opens its own
            return None
        return self._kept.con

    @contextmanager
    def _connection(self):
        """The kept connection (when no transaction is open on it), else a new one, closed
        after use (read-only: closing it last removes SQLite's side files)."""
        con = self._kept_connection()
        if con is not None and not con.in_transaction:
            yield con
            return
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self, durable: bool = True):
        """One write transaction. ``durable=False`` (progress notes) commits without waiting
        for the disk: after a power loss it may be lost, never half-written (WAL)."""
        if self.readonly:
            raise RuntimeError("a read-only state store cannot write")
        with self._connection() as con:
            if not durable:
                con.execute("PRAGMA synchronous=NORMAL")
            try:
                con.execute("BEGIN IMMEDIATE")
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            finally:
                if not durable:
                    con.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def reading(self):
        """A consistent snapshot for several reads."""
        with self._connection() as con:
            con.execute("BEGIN")
            try:
                yield con
            finally:
                if con.in_transaction:
                    con.execute("COMMIT")

    # -- model versions ------------------------------------------------------------
    def current(self, con: sqlite3.Connection | None = None) -> ModelVersion | None:
        """The published model version (the newest)."""
        return self._one(f"SELECT {_VERSION_COLUMNS} FROM model_versions ORDER BY version DESC LIMIT 1", (), con)

    def version(self, number: int, con: sqlite3.Connection | None = None) -> ModelVersion | None:
        return self._one(f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE version = ?", (number,), con)

    def versions(self, limit: int | None = None) -> list[ModelVersion]:
        with self.reading() as con:
            if not _has_versions(con):
                return []
            rows = con.execute(f"SELECT {_VERSION_COLUMNS} FROM model_versions ORDER BY version DESC LIMIT ?",
                               (-1 if limit is None else limit,)).fetchall()
        return [_version(r) for r in rows]

    def _one(self, sql: str, args: tuple, con: sqlite3.Connection | None) -> ModelVersion | None:
        if con is None:
            with self.reading() as own:
                row = own.execute(sql, args).fetchone() if _has_versions(own) else None
        else:
            row = con.execute(sql, args).fetchone()
        return _version(row) if row else None

    @staticmethod
    def insert_version(con: sqlite3.Connection, version: ModelVersion) -> int:
        """Publish: the next version number, inside the caller's transaction."""
        number = con.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions").fetchone()[0]
        columns = {name: [c.table, c.name, c.data_type, c.def_hash, c.first_day, c.last_day, c.job_id]
                   for name, c in version.columns.items()}
        con.execute(f"INSERT INTO model_versions({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (number, version.job_id, version.kind, version.created_at, json.dumps(version.tables),
                     json.dumps(columns), version.first_day, version.watermark, version.day_from, version.day_to,
                     json.dumps(list(version.written)), version.rows, version.seconds, version.restored_from, 0))
        return number

    def meta(self, key: str, default=None):
        with self.reading() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    @staticmethod
    def set_meta(con: sqlite3.Connection, key: str, value) -> None:
        con.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value, default=str)))


def _has_versions(con: sqlite3.Connection) -> bool:
    """False for a model directory written before model versions (read-only readers do not
    create tables): it reads as never materialized until the next refresh."""
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'model_versions'").fetchone() is not None


def now() -> float:
    return time.time()
