"""The model's Parquet files store entity ids without a dictionary: no file holds an id
twice, so a dictionary would repeat every id and readers would decode it for nothing. The
other columns keep theirs (a day's country, platform or counter values repeat)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from jobs_support import copy_project, day

from asemic_core.project import Project
from asemic_core.semantic.base_properties import ENTITY_ID


def _encodings(files: list[str]) -> dict[str, set[str]]:
    """Column -> the encodings any of ``files`` uses for it."""
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    with duckdb.connect() as con:
        rows = con.sql(f"SELECT path_in_schema, encodings FROM parquet_metadata([{listed}])").fetchall()
    out: dict[str, set[str]] = {}
    for column, encodings in rows:
        out.setdefault(column, set()).update(e.strip() for e in encodings.split(","))
    return out


def _check(root: Path, since_version: dict[str, int] | None = None) -> set[str]:
    """Check every file of the published tables (or those added after ``since_version``);
    return the tables checked."""
    store = Project(root).model_store(readonly=True)
    checked = set()
    for table in store.tables.names():
        latest = store.tables.latest(table)
        files = [f.path for f in store.tables.snapshot(table, latest).files]
        if since_version is not None:
            before = since_version.get(table)
            old = set() if before is None else {f.path for f in store.tables.snapshot(table, before).files}
            files = [f for f in files if f not in old]
        if not files:
            continue
        encodings = _encodings(files)
        if ENTITY_ID not in encodings:
            continue  # a column table: keyed by day and position
        assert not {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & encodings[ENTITY_ID], (table, encodings[ENTITY_ID])
        assert any("RLE_DICTIONARY" in e for c, e in encodings.items() if c != ENTITY_ID), table
        checked.add(table)
    return checked


def test_refresh_writes_entity_ids_without_a_dictionary(demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.clean, tmp_path / "project")
    assert {"daily", "users", "user_state"} <= _check(root)


def test_update_and_rewind_write_entity_ids_without_a_dictionary(demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.behind, tmp_path / "project")
    tables = Project(root).model_store(readonly=True).tables
    versions = {table: tables.latest(table) for table in tables.names()}
    Project(root).update(origin="test")
    assert "daily" in _check(root, versions)
    tables = Project(root).model_store(readonly=True).tables
    versions = {table: tables.latest(table) for table in tables.names()}
    result = Project(root).rewind(day(53), day(59), origin="test")
    assert result.rows > 0
    assert "daily" in _check(root, versions)

