"""The Spark table store's versions are manifests: a day taken out of a table is a new
manifest without its parts (nothing rewritten), and a dropped table loses its manifests
and its local files. These need no Spark session: the store only reads and writes
manifests here."""

from __future__ import annotations

import datetime as dt

from asemic_core.backend.settings import SparkSettings
from asemic_core.backend.spark_store import SparkTableStore


def _store(tmp_path) -> SparkTableStore:
    return SparkTableStore(SparkSettings(tables_path=str(tmp_path / "tables"), state_dir=tmp_path / "model"))


def test_delete_days_writes_a_manifest_without_their_parts(tmp_path) -> None:
    store = _store(tmp_path)
    parts = [{"dir": f"{store.location('t')}/v000000-a", "day": f"2026-01-0{d}", "rows": d, "size": 10} for d in (1, 2, 3, 4)]
    store._save("t", 0, {"table": "t", "version": 0, "format": "parquet", "partition_by": "date",
                         "columns": ["date", "__row", "x"], "parts": parts})
    version = store.delete_days("t", dt.date(2026, 1, 2), dt.date(2026, 1, 3))
    assert version == 1 and store.latest("t") == 1
    kept = store.snapshot("t", 1)
    assert [f.day for f in kept.files] == [dt.date(2026, 1, 1), dt.date(2026, 1, 4)]
    assert kept.rows == 5 and kept.columns == ("date", "__row", "x")
    assert store.snapshot("t", 0).rows == 10  # the version before is unchanged


def test_names_and_drop(tmp_path) -> None:
    store = _store(tmp_path)
    for table in ("daily", "daily_columns_3"):
        store._save(table, 0, {"table": table, "version": 0, "format": "parquet", "partition_by": None,
                               "columns": ["x"], "parts": []})
    files = tmp_path / "tables" / "daily_columns_3" / "v000000-a"
    files.mkdir(parents=True)
    (files / "part-0.parquet").write_bytes(b"")
    assert store.names() == ["daily", "daily_columns_3"]
    store.drop("daily_columns_3")
    assert store.names() == ["daily"] and not (tmp_path / "tables" / "daily_columns_3").exists()
