"""Golden datasets on disk: read their event CSVs, build a DuckDB warehouse from them.

A golden dataset is a directory ``tests/engine/golden/<name>/`` holding a complete project
config (``asemic.yml`` with ``warehouse: {type: duckdb, path: warehouse.duckdb}`` and
``userentity/``), one CSV per event table in ``data/<event_id>.csv`` (header = column ids
of the event YAML; an empty cell is NULL) and ``expected.yml`` (hand-computed values).

- ``dataset_dirs()``: every golden dataset directory.
- ``read_event_rows(dataset_dir)``: ``{event_id: [row dict, ...]}`` typed by the event
  YAML (NUMBER float, INTEGER int, STRING str, DATE date, DATETIME datetime, BOOLEAN bool).
- ``build_warehouse(dataset_dir, db_path)``: a DuckDB file with every event table under its
  (schema-qualified) ``table_name`` and column types from the event YAML.
- ``materialize_project(dataset_dir, project_dir)``: copies the config into
  ``project_dir`` and builds ``project_dir/<warehouse path>`` there, so the engine can run
  on exactly the data the expected values were computed from. Returns ``project_dir``.
- ``load_expected(dataset_dir)``: the parsed ``expected.yml``.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import yaml

from asemic_core.config.loader import load_project

GOLDEN_DIR = Path(__file__).parent / "golden"
DUCKDB_TYPES = {"NUMBER": "DOUBLE", "INTEGER": "BIGINT", "STRING": "VARCHAR", "DATE": "DATE",
                "DATETIME": "TIMESTAMP", "BOOLEAN": "BOOLEAN"}


def dataset_dirs() -> list[Path]:
    return sorted(p for p in GOLDEN_DIR.iterdir() if (p / "expected.yml").is_file())


def _event_tables(dataset_dir: Path) -> dict[str, Any]:
    files = load_project(dataset_dir)
    errors = [issue for issue in files.issues if issue.is_error]
    if errors:
        raise ValueError(f"golden config {dataset_dir} does not load: {errors}")
    return {event_id: located.model for event_id, located in files.events.items()}


def _typed(text: str, data_type: str) -> Any:
    if text == "":
        return None
    if data_type == "NUMBER":
        return float(text)
    if data_type == "INTEGER":
        return int(text)
    if data_type == "DATE":
        return dt.date.fromisoformat(text)
    if data_type == "DATETIME":
        return dt.datetime.fromisoformat(text)
    if data_type == "BOOLEAN":
        return {"true": True, "false": False}[text.lower()]
    return text


def read_event_rows(dataset_dir: Path | str) -> dict[str, list[dict[str, Any]]]:
    dataset_dir = Path(dataset_dir)
    out: dict[str, list[dict[str, Any]]] = {}
    for event_id, table in _event_tables(dataset_dir).items():
        path = dataset_dir / "data" / f"{event_id}.csv"
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if list(reader.fieldnames or []) != list(table.columns):
                raise ValueError(f"{path}: header {reader.fieldnames} != columns {list(table.columns)}")
            out[event_id] = [
                {name: _typed(row[name], table.columns[name].data_type.value) for name in table.columns}
                for row in reader
            ]
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_warehouse(dataset_dir: Path | str, db_path: Path | str) -> Path:
    dataset_dir, db_path = Path(dataset_dir), Path(db_path)
    tables = _event_tables(dataset_dir)
    rows = read_event_rows(dataset_dir)
    if db_path.exists():
        db_path.unlink()
    with duckdb.connect(str(db_path)) as con:
        for event_id, table in tables.items():
            parts = table.table_name.split(".")
            if len(parts) > 2:
                raise NotImplementedError(f"{table.table_name}: catalog-qualified names")
            if len(parts) == 2:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(parts[0])}")
            qualified = ".".join(_quoted(p) for p in parts)
            columns = ", ".join(f"{_quoted(name)} {DUCKDB_TYPES[col.data_type.value]}"
                                for name, col in table.columns.items())
            con.execute(f"CREATE TABLE {qualified} ({columns})")
            if rows[event_id]:
                marks = ", ".join("?" for _ in table.columns)
                con.executemany(f"INSERT INTO {qualified} VALUES ({marks})",
                                [[row[name] for name in table.columns] for row in rows[event_id]])
    return db_path


def materialize_project(dataset_dir: Path | str, project_dir: Path | str) -> Path:
    dataset_dir, project_dir = Path(dataset_dir), Path(project_dir)
    project_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(dataset_dir / "asemic.yml", project_dir / "asemic.yml")
    shutil.copytree(dataset_dir / "userentity", project_dir / "userentity", dirs_exist_ok=True)
    warehouse = yaml.safe_load((dataset_dir / "asemic.yml").read_text())["warehouse"]["path"]
    build_warehouse(dataset_dir, project_dir / warehouse)
    return project_dir


def load_expected(dataset_dir: Path | str) -> dict[str, Any]:
    return yaml.safe_load((Path(dataset_dir) / "expected.yml").read_text())
