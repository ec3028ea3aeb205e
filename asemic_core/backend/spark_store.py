"""The Spark table store: Spark writes each table version into its own directory; a
version's manifest (kept with the project's state, not on the cluster) names, for every
day, the directory that holds it.

A write of days ``first .. last`` runs Spark's dynamic partition overwrite into a new
directory (``<path>/<table>/v<N>-<token>/date=<day>/``) and its manifest takes those days
from there and every other day from the previous version's manifest: nothing written is
ever changed, so a published model version stays readable whatever a later job does, and
an update rewrites only the days it computes. ``remove_unreferenced`` deletes the
directories no kept manifest names (local paths; on a cluster path, the cluster's
retention does it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from pathlib import Path

from asemic_core.backend.seam import TableFile, TableSnapshot
from asemic_core.backend.settings import SparkSettings
from asemic_core.backend.spark_executor import SparkRows, spark_error

MANIFESTS = "spark-versions"


class SparkTableStore:
    def __init__(self, settings: SparkSettings) -> None:
        self.settings = settings
        self.manifests = Path(settings.state_dir or ".") / MANIFESTS

    # -- manifests -----------------------------------------------------------------
    def _manifest_path(self, table: str, version: int) -> Path:
        return self.manifests / table / f"{version:08d}.json"

    def _manifest(self, table: str, version: int) -> dict:
        try:
            return json.loads(self._manifest_path(table, version).read_text())
        except FileNotFoundError:
            raise spark_error(FileNotFoundError(f"version {version} of table {table} has no manifest"),
                              "table version missing") from None

    def _save(self, table: str, version: int, manifest: dict) -> None:
        path = self._manifest_path(table, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, path)  # a manifest appears whole or not at all

    def versions(self, table: str) -> list[int]:
        folder = self.manifests / table
        return sorted(int(p.stem) for p in folder.glob("*.json")) if folder.is_dir() else []

    def location(self, table: str) -> str:
        return f"{self.settings.tables_path.rstrip('/')}/{table}"

    # -- the TableStore interface ------------------------------------------------------
    def exists(self, table: str) -> bool:
        return bool(self.versions(table))

    def latest(self, table: str) -> int | None:
        versions = self.versions(table)
        return versions[-1] if versions else None

    def snapshot(self, table: str, version: int) -> TableSnapshot:
        manifest = self._manifest(table, version)
        partition_by = manifest["partition_by"]
        files = []
        for part in manifest["parts"]:
            day = dt.date.fromisoformat(part["day"]) if part["day"] else None
            folder = f"{part['dir']}/{partition_by}={part['day']}" if partition_by else part["dir"]
            files.append(TableFile(f"{folder}/*.parquet", int(part["rows"]), int(part.get("size", 0)), day))
        files.sort(key=lambda f: (f.day or dt.date.min, f.path))
        return TableSnapshot(table, self.location(table), version, tuple(manifest["columns"]), partition_by,
                             tuple(files))

    def write(self, table: str, data: SparkRows, *, partition_by: str | None,
              replace_days: tuple[dt.date, dt.date] | None, replace_schema: bool, append: bool = False,
              split_active: bool = False, replace_active: bool = False) -> int:
        if replace_active:
            raise ValueError(f"table {table} is not split by activity")
        # ``split_active`` is not done here: a day's rows stay in one directory, and readers
        # of activity days filter them (the split only saves reading)
        latest = self.latest(table)
        version = 0 if latest is None else latest + 1
        directory = f"{self.location(table)}/v{version:06d}-{uuid.uuid4().hex[:8]}"
        executor = data.executor
        frame = data.dataframe()
        fmt = self.settings.table_format
        try:
            writer = frame.write.format(fmt).mode("overwrite").option("partitionOverwriteMode", "dynamic")
            if partition_by:
                writer = writer.partitionBy(partition_by)
            with executor.watch():
                writer.save(directory)
            counts = self._counts(executor, directory, partition_by)
        except Exception as err:  # noqa: BLE001 - Spark's errors, one message
            raise spark_error(err, f"could not write table {table} to {directory} (engine.path)") from None
        data.written()
        parts = [{"dir": directory, "day": day, "rows": rows, "size": self._size(directory, partition_by, day)}
                 for day, rows in sorted(counts.items(), key=lambda kv: kv[0] or "")]
        if append and latest is not None:  # the table's parts and the new rows' (none when no row was written)
            parts = self._manifest(table, latest)["parts"] + [p for p in parts if p["rows"]]
        elif replace_days is not None and latest is not None:
            first, last = (d.isoformat() for d in replace_days)
            kept = [p for p in self._manifest(table, latest)["parts"] if not (first <= p["day"] <= last)]
            parts = sorted(kept + parts, key=lambda p: p["day"])
        self._save(table, version, {"table": table, "version": version, "format": fmt, "partition_by": partition_by,
                                    "columns": list(frame.columns), "parts": parts})
        return version

    def _counts(self, executor, directory: str, partition_by: str | None) -> dict[str | None, int]:
        """Rows per day of what was just written (from the files' metadata)."""
        fmt = self.settings.table_format
        if self.settings.local_tables and not any(Path(directory).rglob("*.parquet")) and fmt == "parquet":
            return {}
        written = executor.session.read.format(fmt).load(directory)
        if not partition_by:
            return {None: written.count()}
        return {row[0].isoformat() if hasattr(row[0], "isoformat") else str(row[0]): int(row[1])
                for row in written.groupBy(partition_by).count().collect()}

    def _size(self, directory: str, partition_by: str | None, day: str | None) -> int:
        if "://" in self.settings.tables_path or self.settings.tables_path.startswith("dbfs:"):
            return 0
        folder = Path(directory) / f"{partition_by}={day}" if partition_by else Path(directory)
        return sum(p.stat().st_size for p in folder.glob("*.parquet"))

    def delete_days(self, table: str, first: dt.date, last: dt.date) -> int:
        """A new version without the days ``first`` .. ``last`` (a manifest: nothing is rewritten)."""
        latest = self.latest(table)
        manifest = dict(self._manifest(table, latest))
        low, high = first.isoformat(), last.isoformat()
        manifest["parts"] = [p for p in manifest["parts"] if not (p["day"] and low <= p["day"] <= high)]
        manifest["version"] = latest + 1
        self._save(table, latest + 1, manifest)
        return latest + 1

    def names(self) -> list[str]:
        return sorted(p.name for p in self.manifests.iterdir() if p.is_dir()) if self.manifests.is_dir() else []

    def drop(self, table: str) -> None:
        """Forget the table's versions (and delete its files, on a local path)."""
        shutil.rmtree(self.manifests / table, ignore_errors=True)
        if not ("://" in self.settings.tables_path or self.settings.tables_path.startswith("dbfs:")):
            shutil.rmtree(Path(self.location(table)), ignore_errors=True)

    def reset(self, table: str, version: int) -> int:
        latest = self.latest(table)
        if latest == version:
            return version
        manifest = dict(self._manifest(table, version))
        manifest["version"] = latest + 1
        self._save(table, latest + 1, manifest)
        return latest + 1

    def history(self, table: str) -> list[dict]:
        return [{"version": v, "parts": len(self._manifest(table, v)["parts"])} for v in self.versions(table)]

    def remove_unreferenced(self, keep: dict[str, set[int]], orphans_only: bool) -> int:
        """Delete the version directories (local paths only) that no kept manifest names;
        with ``orphans_only``, those no manifest at all names (a job died writing them)."""
        if "://" in self.settings.tables_path or self.settings.tables_path.startswith("dbfs:"):
            return 0
        root = Path(self.settings.tables_path)
        removed = 0
        for table_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
            table = table_dir.name
            versions = set(self.versions(table)) if orphans_only else set(keep.get(table, set()))
            latest = self.latest(table)
            if latest is not None:
                versions.add(latest)
            referenced = {p["dir"] for v in versions for p in self._manifest(table, v)["parts"]}
            for directory in table_dir.iterdir():
                if directory.is_dir() and str(directory) not in referenced:
                    removed += sum(1 for _ in directory.rglob("*.parquet"))
                    shutil.rmtree(directory, ignore_errors=True)
        return removed
