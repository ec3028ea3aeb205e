"""The Delta Lake table store (delta-rs): one Delta table per model table under
``<model>/tables/<name>``, partitioned by day where the table has days.

Every write is one Delta commit (a new table version); old versions stay readable
(time travel) until ``remove_unreferenced`` deletes files no kept version uses. Any
Delta reader (Spark, Trino, Polars, DuckDB's delta extension) can open the tables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
# the compute kernels called by name: ``pyarrow.compute`` builds a wrapper for each of them
# when imported (~25 ms, with pyarrow.parquet, in every job process)
from pyarrow._compute import CastOptions, call_function
from deltalake import DeltaTable, write_deltalake
from deltalake import ColumnProperties, PostCommitHookProperties, WriterProperties

from asemic_core.backend.seam import ACTIVE_PARTITION, ACTIVE_WHEN_ZERO, TableFile, TableSnapshot
from asemic_core.collector import keep_for_life, release
from asemic_core.names import quote_name, sql_string
from asemic_core.semantic.base_properties import ENTITY_ID

# A job's rows reach every day's partition at once (each batch of users spans all days), so
# delta-rs holds one open file per day; small row groups flush their pages early instead of
# keeping each day's column buffers until the end. Refresh peak RSS at 1,000,000 x 365
# (docs/performance.md): 6.5 GB with 16k-row groups, 5.9 GB with 8k; at 100,000 x 180,
# 3.1 GB with the default (1M rows), 2.7 GB with 16k.
# No file holds an entity id twice (a day's rows, one row per user of a state), so a dictionary
# of them stores every id once more and readers decode both: without one, the model is 13-14 %
# smaller and a 30-day D1 retention's statement at 1,000,000 x 365 ~10 ms faster (of ~55).
_COLUMNS = {ENTITY_ID: ColumnProperties(dictionary_enabled=False)}
_WRITER = WriterProperties(compression="ZSTD", max_row_group_size=8_192, column_properties=_COLUMNS)
# Where a write holds few partitions open (a few days, an unpartitioned table, the activity
# part written ACTIVE_WINDOW_DAYS at a time) a day's rows are one row group: readers pay per
# row group and per file, and most KPI queries read the activity part. The demo KPI mix at
# 1,000,000 x 365 spent 24 % less in DuckDB over files of full row groups (docs/performance.md).
_FULL_GROUPS = WriterProperties(compression="ZSTD", max_row_group_size=131_072, column_properties=_COLUMNS)
# The activity part of a write reaching every day is set aside by windows of this many days,
# then appended in commits of whole windows holding up to WINDOW_ROWS rows together (one
# window at least): the files a commit holds open, with their row groups, are bounded in
# days and in rows (at 1,000,000 x 365 a window is ~1.7M rows: one per commit; at
# 100,000 x 180 the whole part is one commit).
ACTIVE_WINDOW_DAYS = 31
WINDOW_ROWS = 2_000_000
# A write that replaces at most this many days puts both parts of its days in one commit:
# delta-rs then holds two open files per day, few at that count (setting the activity part
# aside costs a 7-day rewind at 100,000 x 180 a quarter of its write's CPU).
ONE_PASS_DAYS = 31
# Keep every commit file: the store decides which versions stay (see remove_unreferenced).
_HOOKS = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)

_cache: dict[tuple, TableSnapshot] = {}  # versions never change: cached per process
_cache_lock = threading.Lock()
# (table version key, column, value) -> the files whose statistics show that value on every row
_constant: dict[tuple, frozenset[str]] = {}
# Per table location, the last table object loaded (by a snapshot or a write) and the key of
# its version: a write reuses it when that version is still the latest (a job reads the
# published version, then writes over it), instead of loading the table again.
_loaded: dict[str, tuple[tuple, DeltaTable]] = {}


class DeltaTableStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def location(self, table: str) -> Path:
        return self.root / table

    def exists(self, table: str) -> bool:
        return (self.location(table) / "_delta_log").is_dir() and any((self.location(table) / "_delta_log").glob("*.json"))

    def latest(self, table: str) -> int | None:
        return _latest_version(self.location(table))

    def _key(self, table: str, version: int) -> tuple | None:
        # The commit file identifies the version (a table deleted and written again at the
        # same place has other commit files with the same numbers).
        try:
            stat = os.stat(self.location(table) / "_delta_log" / f"{version:020d}.json")
        except FileNotFoundError:
            return None
        return (str(self.location(table)), version, stat.st_ino, stat.st_mtime_ns)

    def snapshot(self, table: str, version: int) -> TableSnapshot:
        key = self._key(table, version)
        found = _cached(key)
        if found is not None:
            return found
        delta = DeltaTable(str(self.location(table)), version=version)
        found = self._read(delta, table, version)
        self._keep_loaded(table, key, delta)  # after reading it: a write may take it from now on
        return self._remember(key, found)

    def _keep_loaded(self, table: str, key: tuple | None, delta: DeltaTable) -> None:
        if key is not None:
            with _cache_lock:
                _loaded[str(self.location(table))] = (key, delta)

    def _load_latest(self, table: str) -> DeltaTable:
        """The table at its latest version: the object loaded last when it is at that version."""
        location = str(self.location(table))
        latest = _latest_version(self.location(table))
        with _cache_lock:
            key, delta = _loaded.pop(location, (None, None))
        if delta is not None and latest is not None and key == self._key(table, latest):
            return delta
        return DeltaTable(location)

    def _remember(self, key: tuple | None, found: TableSnapshot) -> TableSnapshot:
        if key is not None:
            with _cache_lock:
                if len(_cache) > 256:
                    _cache.clear()
                    release()
                _cache[key] = found
            keep_for_life()
        return found

    def _read(self, delta: DeltaTable, table: str, version: int) -> TableSnapshot:
        """The snapshot of ``delta``, a table object loaded at ``version``."""
        partition_by = (delta.metadata().partition_columns or [None])[0]
        columns = tuple(f.name for f in delta.schema().fields if f.name != ACTIVE_PARTITION)
        # read as a stream: ``pa.table`` on a foreign (arro3) table first asks whether it is a
        # pandas DataFrame, which imports pandas (~150 ms, once per process)
        actions = pa.RecordBatchReader.from_stream(delta.get_add_actions(flatten=True)).read_all().to_pydict()
        base = self.location(table)
        files = []
        count = len(actions["path"])
        days = actions.get(f"partition.{partition_by}", [None] * count) if partition_by else [None] * count
        flags = actions.get(f"partition.{ACTIVE_PARTITION}", [None] * count)
        for index, path in enumerate(actions["path"]):
            day, active = days[index], flags[index]
            if isinstance(day, str):
                day = dt.date.fromisoformat(day)
            if isinstance(active, str):
                active = active == "true"
            files.append(TableFile(str(base / unquote(path)), int(actions["num_records"][index] or 0),
                                   int(actions["size_bytes"][index] or 0), day, active))
        files.sort(key=lambda f: (f.day or dt.date.min, f.path))
        return TableSnapshot(table, str(base), version, columns, partition_by, tuple(files))

    def holds_everywhere(self, snapshot: TableSnapshot, column: str, value: int) -> bool:
        """Whether every row of ``snapshot``'s files holds the integer ``value`` in ``column``, as
        the files' statistics in the Delta log say (no NULL, minimum = maximum = ``value``: exact
        for an integer column); False when they do not say so or say nothing (no statistics).
        The files that hold it are found once per table version, column and value (KPI
        readers ask on every query)."""
        if not snapshot.files:
            return True
        key = self._key(snapshot.name, snapshot.version)
        found = _constant.get((key, column, value)) if key is not None else None
        if found is None:
            found = self._constant_files(snapshot, key, column, value)
            if key is not None:
                with _cache_lock:
                    if len(_constant) > 256:
                        _constant.clear()
                    _constant[(key, column, value)] = found
        return all(f.path in found for f in snapshot.files)

    def _constant_files(self, snapshot: TableSnapshot, key: tuple | None, column: str, value: int) -> frozenset[str]:
        """The files of ``snapshot``'s table version whose statistics show ``value`` on every row."""
        location = str(self.location(snapshot.name))
        with _cache_lock:
            loaded_key, delta = _loaded.get(location, (None, None))
        if delta is None or key is None or loaded_key != key:  # the version the job read is loaded as a rule
            delta = DeltaTable(location, version=snapshot.version)
        actions = pa.RecordBatchReader.from_stream(delta.get_add_actions(flatten=True)).read_all()
        stats = [f"min.{column}", f"max.{column}", f"null_count.{column}"]
        if not all(name in actions.schema.names for name in stats) or not all(
                pa.types.is_integer(actions.schema.field(name).type) for name in stats):
            return frozenset()
        listed = actions.select(["path", *stats]).to_pydict()
        base = self.location(snapshot.name)
        return frozenset(str(base / unquote(path)) for path, low, high, nulls in zip(*(listed[name] for name in ["path", *stats]))
                         if (low, high, nulls) == (value, value, 0))

    def write(self, table: str, data, *, partition_by: str | None, replace_days: tuple[dt.date, dt.date] | None,
              replace_schema: bool, append: bool = False, split_active: bool = False,
              replace_active: bool = False) -> int:
        location = str(self.location(table))
        # the table is loaded once: its partition columns are read from it, the write commits
        # through it (it then holds the new version) and the new version's snapshot is taken
        # from it (each load replays the log: ~20 ms for the daily table at 100,000 x 180)
        delta = self._load_latest(table) if self.exists(table) else None
        options = dict(mode="overwrite", writer_properties=_WRITER, post_commithook_properties=_HOOKS)
        whole = not (append or replace_active or replace_days is not None) or delta is None
        partitions = [partition_by] if partition_by else None
        # the split follows the table: a table written before it keeps one part per day
        # until a job rewrites it whole
        if (split_active or replace_active) and (whole or ACTIVE_PARTITION in _partition_columns(delta, location)):
            data, flagged = _with_activity_flag(data)
            if flagged and partition_by:
                partitions = [partition_by, ACTIVE_PARTITION]
        if append and delta is not None:
            options["mode"] = "append"
        elif replace_active:
            if ACTIVE_PARTITION not in _partition_columns(delta, location):
                raise ValueError(f"table {table} is not split by activity")
            options["predicate"] = f"{quote_name(ACTIVE_PARTITION)} = true"
        elif replace_days is not None and delta is not None:
            first, last = replace_days
            column = quote_name(partition_by)
            options["predicate"] = (f"{column} >= {sql_string(first.isoformat())} AND "
                                    f"{column} <= {sql_string(last.isoformat())}")
        else:
            options["partition_by"] = partitions
            options["schema_mode"] = "overwrite" if replace_schema or delta is not None else None
        few_days = "predicate" in options and replace_days is not None and (
            replace_days[1] - replace_days[0]).days < ONE_PASS_DAYS
        if replace_active and self._active_rows(table, delta) > WINDOW_ROWS:
            # every activity file leaves the table (whole partitions: nothing is rewritten),
            # then the new activity part is appended a window of days at a time
            self._replace_active(delta, data, partition_by, options["predicate"])
        elif replace_active:  # a part of that size (a compact or partial update rewrites it) in one write
            write_deltalake(delta, _only_active(data), **{**options, "writer_properties": _FULL_GROUPS})
        elif partitions and ACTIVE_PARTITION in partitions and not few_days:
            delta = self._write_in_two_passes(location, delta, data, options, partition_by)
        else:
            if few_days or not partitions:
                options["writer_properties"] = _FULL_GROUPS
            write_deltalake(delta if delta is not None else location, data, **options)
        if delta is None:
            delta = DeltaTable(location)
        version = delta.version()
        key = self._key(table, version)
        found = self._read(delta, table, version)
        self._keep_loaded(table, key, delta)
        self._remember(key, found)
        return version

    def delete_days(self, table: str, first: dt.date, last: dt.date) -> int:
        """Remove the rows of days ``first`` .. ``last`` (a partition predicate: the files of
        those days leave the table, nothing is rewritten); return the new version."""
        delta = self._load_latest(table)
        column = quote_name((delta.metadata().partition_columns or ["date"])[0])
        delta.delete(predicate=f"{column} >= {sql_string(first.isoformat())} AND "
                               f"{column} <= {sql_string(last.isoformat())}",
                     post_commithook_properties=_HOOKS)
        version = delta.version()
        key = self._key(table, version)
        self._remember(key, self._read(delta, table, version))
        self._keep_loaded(table, key, delta)
        return version

    def drop(self, table: str) -> None:
        """Delete the table (its files and its log)."""
        import shutil

        with _cache_lock:
            _loaded.pop(str(self.location(table)), None)
        shutil.rmtree(self.location(table), ignore_errors=True)

    def names(self) -> list[str]:
        """The tables stored."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def _write_in_two_passes(self, location: str, delta: DeltaTable | None, data: pa.RecordBatchReader,
                             options: dict, partition_by: str) -> DeltaTable | None:
        """Write the rows outside the activity part, then append the activity part's rows
        (set aside in a Parquet file meanwhile). delta-rs keeps every partition's file open
        until the end of a write, each holding up to a row group: a job whose batches reach
        every day would hold two open files per day at once (at 1,000,000 x 365 that was 7.0
        GiB peak RSS instead of 5.8). The activity part is set aside and appended by window
        of days (``_Windows``). All commits are table versions of one unpublished job.
        Returns the table object holding the last commit (None if ``delta`` was None and
        nothing was appended)."""
        import pyarrow.compute as pc  # not at import time: ~30 ms a job that writes a few days need not pay

        flag = data.schema.get_field_index(ACTIVE_PARTITION)
        with _Windows(self.root.parent / "tmp", data.schema, partition_by) as windows:
            def others():
                for batch in data:
                    active = batch.column(flag)
                    windows.add(batch.filter(active))
                    yield batch.filter(pc.invert(active))

            write_deltalake(delta if delta is not None else location,
                            pa.RecordBatchReader.from_batches(data.schema, others()), **options)
            if windows.rows:
                delta = delta if delta is not None else DeltaTable(location)
                windows.append_to(delta)
        return delta

    def _active_rows(self, table: str, delta: DeltaTable) -> int:
        """The rows of the activity part of the table's latest version (from its Delta log)."""
        found = _cached(self._key(table, delta.version()))
        found = found if found is not None else self._read(delta, table, delta.version())
        return sum(f.rows for f in found.files if f.active)

    def _replace_active(self, delta: DeltaTable, data, partition_by: str, predicate: str) -> None:
        """Replace the activity part by ``data`` (every row flagged active): its rows are set
        aside by window first, then the activity files leave the table, then the windows are
        appended, in full row groups."""
        reader = _only_active(data)
        with _Windows(self.root.parent / "tmp", reader.schema, partition_by) as windows:
            for batch in reader:
                windows.add(batch)
            delta.delete(predicate=predicate, post_commithook_properties=_HOOKS)
            windows.append_to(delta)

    def reset(self, table: str, version: int) -> int:
        if _latest_version(self.location(table)) == version:  # the usual case: no table load
            return version
        delta = DeltaTable(str(self.location(table)))
        if delta.version() == version:
            return version
        delta.restore(version)
        return DeltaTable(str(self.location(table))).version()

    def history(self, table: str) -> list[dict]:
        return DeltaTable(str(self.location(table))).history() if self.exists(table) else []

    def remove_unreferenced(self, keep: dict[str, set[int]], orphans_only: bool) -> int:
        removed = 0
        for table_dir in sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []:
            table = table_dir.name
            if orphans_only:
                referenced = _ever_added(table_dir)
            else:
                versions = set(keep.get(table, set()))
                latest = self.latest(table)
                if latest is not None:
                    versions.add(latest)
                referenced = {f.path for v in versions for f in self.snapshot(table, v).files}
            removed += _remove_unlisted(table_dir, referenced)
        return removed


class _Windows:
    """Rows set aside on disk by window of ``ACTIVE_WINDOW_DAYS`` days of ``partition_by``
    (one LZ4 Parquet file each), then appended to a Delta table in full row groups, whole
    windows of up to ``WINDOW_ROWS`` rows per commit: delta-rs keeps each partition's file
    open until the end of a write, so a write's open files are a few windows' days."""

    def __init__(self, spill_dir: Path, schema: pa.Schema, partition_by: str) -> None:
        self.dir = spill_dir
        self.schema = schema
        self.day = schema.get_field_index(partition_by)
        self.writers: dict[int, object] = {}
        self.paths: dict[int, Path] = {}
        self.counts: dict[int, int] = {}

    def __enter__(self) -> "_Windows":
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob("active-part-*.parquet"):  # one writer at a time: a dead job's
            stale.unlink(missing_ok=True)
        return self

    def add(self, batch: pa.RecordBatch) -> None:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        if not batch.num_rows:
            return
        days = call_function("cast", [batch.column(self.day)], CastOptions.unsafe(pa.int32()))
        windows = pc.divide(days, ACTIVE_WINDOW_DAYS)  # integer division: days since 1970 by window
        for window in pc.unique(windows).to_pylist():
            rows = batch.filter(pc.equal(windows, window))
            writer = self.writers.get(window)
            if writer is None:
                path = self.dir / f"active-part-{os.getpid()}-{threading.get_ident()}-{window}.parquet"
                writer = self.writers[window] = pq.ParquetWriter(path, self.schema, compression="lz4")
                self.paths[window] = path
            writer.write_batch(rows)
            self.counts[window] = self.counts.get(window, 0) + rows.num_rows

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def append_to(self, delta: DeltaTable) -> None:
        import pyarrow.parquet as pq

        for writer in self.writers.values():
            writer.close()
        self.writers.clear()
        commits: list[list[int]] = []
        for window in sorted(self.paths):
            if commits and sum(self.counts[w] for w in commits[-1]) + self.counts[window] <= WINDOW_ROWS:
                commits[-1].append(window)
            else:
                commits.append([window])
        for windows in commits:
            batches = (batch for w in windows for batch in pq.ParquetFile(self.paths[w]).iter_batches())
            write_deltalake(delta, pa.RecordBatchReader.from_batches(self.schema, batches),
                            mode="append", writer_properties=_FULL_GROUPS, post_commithook_properties=_HOOKS)

    def __exit__(self, *exc) -> None:
        for writer in self.writers.values():
            writer.close()
        for path in self.paths.values():
            path.unlink(missing_ok=True)


def _cached(key: tuple | None) -> TableSnapshot | None:
    """The snapshot of a table version read before in this process, if any."""
    with _cache_lock:
        return _cache.get(key) if key else None


def _only_active(data) -> pa.RecordBatchReader:
    """``data`` (an Arrow stream or table flagged by ``_with_activity_flag``), raising
    ValueError at a row outside the activity part."""
    reader = data if isinstance(data, pa.RecordBatchReader) else pa.RecordBatchReader.from_batches(
        data.schema, data.to_batches())
    flag = reader.schema.get_field_index(ACTIVE_PARTITION)
    if flag < 0:
        raise ValueError(f"the rows replacing the activity part have no {ACTIVE_PARTITION} flag")

    def checked():
        for batch in reader:
            if batch.num_rows and not call_function("all", [batch.column(flag)]).as_py():
                raise ValueError(f"{ACTIVE_PARTITION}: a row outside the activity part replaces the activity part")
            yield batch

    return pa.RecordBatchReader.from_batches(reader.schema, checked())


def _with_activity_flag(data):
    """``data`` (an Arrow stream or table) with the ``ACTIVE_PARTITION`` column: one of the
    row's ``ACTIVE_WHEN_ZERO`` columns is 0 (NULL counts as not 0); and whether it has one
    (not when ``data`` lacks one of those columns)."""
    reader = data if isinstance(data, pa.RecordBatchReader) else pa.RecordBatchReader.from_batches(
        data.schema, data.to_batches())
    schema = reader.schema
    if not all(c in schema.names for c in ACTIVE_WHEN_ZERO):
        return reader, False
    out = schema.append(pa.field(ACTIVE_PARTITION, pa.bool_(), nullable=False))

    def flagged():
        for batch in reader:
            flags = [_is_zero(batch.column(c)) for c in ACTIVE_WHEN_ZERO]
            flag = flags[0]
            for more in flags[1:]:
                flag = call_function("or", [flag, more])
            yield pa.RecordBatch.from_arrays([*batch.columns, flag], schema=out)

    return pa.RecordBatchReader.from_batches(out, flagged()), True


def _latest_version(location: Path) -> int | None:
    """The table's latest version without loading it: the highest ``<version>.json`` commit
    file of its log (how a Delta reader finds it; the commit files are never cleaned up)."""
    try:
        names = os.listdir(location / "_delta_log")
    except (FileNotFoundError, NotADirectoryError):
        return None
    numbers = [int(name[:20]) for name in names if len(name) == 25 and name.endswith(".json") and name[:20].isdigit()]
    return max(numbers) if numbers else None


def _partition_columns(delta: DeltaTable | None, location: str) -> list[str]:
    return (delta if delta is not None else DeltaTable(location)).metadata().partition_columns


def _is_zero(column: pa.Array) -> pa.Array:
    """``column = 0`` with NULL as false, for an integer or floating column. Built without a
    Python scalar: pyarrow converts one by first asking whether it is a pandas object, which
    imports pandas (~150 ms, once per process)."""
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        import pyarrow.compute as pc

        return pc.fill_null(pc.equal(column, 0), False)
    not_zero = call_function("cast", [column], CastOptions.safe(pa.bool_()))
    return call_function("and_kleene", [call_function("is_valid", [column]), call_function("invert", [not_zero])])


def _remove_unlisted(table_dir: Path, referenced: set[str]) -> int:
    """Delete the table's data files (``*.parquet`` outside ``_delta_log``) that are not in
    ``referenced``, then the directories left empty, deepest first: one walk of the tree."""
    removed = 0
    for directory, _subdirs, names in os.walk(table_dir, topdown=False):
        here = Path(directory)
        if "_delta_log" in here.parts:
            continue
        for name in names:
            path = here / name
            if name.endswith(".parquet") and str(path) not in referenced:
                try:
                    os.unlink(path)
                    removed += 1
                except FileNotFoundError:
                    pass
        if here != table_dir and not os.listdir(here):
            here.rmdir()
    return removed


def _ever_added(table_dir: Path) -> set[str]:
    """Every data file some commit of the table added (the commit files are never cleaned up)."""
    out: set[str] = set()
    for commit in (table_dir / "_delta_log").glob("*.json"):
        for line in commit.read_text().splitlines():
            if '"add"' not in line:
                continue
            action = json.loads(line).get("add")
            if action:
                out.add(str(table_dir / unquote(action["path"])))
    return out
