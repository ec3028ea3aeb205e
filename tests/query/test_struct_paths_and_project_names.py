"""STRUCT field paths (`level_started.level`) and BigQuery-style three-part table names
with a hyphenated project id (`my-game-prod.analytics.level_started`), end to end through
the CLI: validate, refresh, update, property values and KPI queries.

The warehouse file is named like the project (`my-game-prod.duckdb`), so DuckDB's catalog
of it is `my-game-prod`. Expected values are worked out by hand from the rows below.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import duckdb
import pytest

from asemic_core.cli import EXIT_OK, EXIT_USER, main
from asemic_core.warehouse import Warehouse

WAREHOUSE = "my-game-prod.duckdb"
FILES = {
    "asemic.yml": f"warehouse: {{type: duckdb, path: {WAREHOUSE}}}\n",
    "userentity/config.yml": "data_model_schema: game_model\ncohorted_daily_kpis_days: [0, 1, 2]\nactive_days: 7\n",
    "userentity/events/install.yml": """\
        table_name: my-game-prod.analytics.installs
        tags: [registration_event]
        columns:
          user_id: {data_type: STRING, tags: [entity_id_column]}
          ts: {data_type: DATETIME, tags: [event_timestamp_column]}
          device.platform: {data_type: STRING, tags: [registration_property]}
        """,
    "userentity/events/level_started.yml": """\
        table_name: my-game-prod.analytics.level_started
        tags: [activity_event]
        where: "{level_started.difficulty} != 'tutorial'"
        columns:
          user_id: {data_type: STRING, tags: [entity_id_column]}
          ts: {data_type: DATETIME, tags: [event_timestamp_column]}
          level_started.level: {data_type: INTEGER}
          level_started.difficulty: {data_type: STRING}
        """,
    "userentity/properties/levels.yml": """\
        properties:
          max_level_on_day:
            data_type: INTEGER
            event_property: {source_event: level_started, select: '{level_started.level}', aggregate_function: max}
          levels_started_on_day:
            data_type: INTEGER
            event_property: {source_event: level_started, select: '{level_started.level}', aggregate_function: count,
                             default_value: 0}
          hard_levels_on_day:
            data_type: INTEGER
            event_property: {source_event: level_started, select: COUNT(*), aggregate_function: none,
                             where: "{level_started.difficulty} = 'hard'", default_value: 0}
          level_points_on_day:
            data_type: INTEGER
            event_property: {source_event: level_started, select: '{level_started.level} * 10', aggregate_function: sum,
                             default_value: 0}
          max_level_lifetime:
            data_type: INTEGER
            lifetime_property: {source_property: max_level_on_day, merge_function: max}
          platform:
            data_type: STRING
            can_group_by: true
            registration_property: {source_column: device.platform}
        """,
    "userentity/kpis/levels.yml": """\
        kpis:
          levels_started:
            select: SUM({property.levels_started_on_day})
            x_axis: {date: {}}
          level_points:
            select: SUM({property.level_points_on_day})
            x_axis: {date: {}}
          max_level:
            select: MAX({property.max_level_lifetime})
            x_axis: {date: {}}
        """,
}
INSTALLS = [("u1", "2026-01-01 10:00", "ios", 17), ("u2", "2026-01-01 12:00", "android", 14),
            ("u3", "2026-01-02 09:00", "ios", 16)]
LEVELS = [  # user, time, level, difficulty ('tutorial' rows are excluded by the table's where)
    ("u1", "2026-01-01 10:05", 1, "tutorial"), ("u1", "2026-01-01 10:30", 2, "easy"),
    ("u1", "2026-01-01 11:00", 3, "hard"), ("u2", "2026-01-01 12:10", 1, "easy"),
    ("u3", "2026-01-02 09:30", 5, "hard"), ("u1", "2026-01-03 08:00", 2, "hard"),
    ("u3", "2026-01-03 09:30", 6, "hard"), ("u2", "2026-01-03 13:00", 4, "easy"),
]


def add_levels(path: Path, rows) -> None:
    con = duckdb.connect(str(path))
    try:
        con.executemany("INSERT INTO analytics.level_started VALUES (?, ?::TIMESTAMP, {'level': ?, 'difficulty': ?})",
                        [list(r) for r in rows])
    finally:
        con.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "game project"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    con = duckdb.connect(str(root / WAREHOUSE))
    try:
        con.execute("CREATE SCHEMA analytics")
        con.execute("CREATE TABLE analytics.installs (user_id VARCHAR, ts TIMESTAMP, "
                    "device STRUCT(platform VARCHAR, os_version INTEGER))")
        con.executemany("INSERT INTO analytics.installs VALUES (?, ?::TIMESTAMP, {'platform': ?, 'os_version': ?})",
                        [list(r) for r in INSTALLS])
        con.execute("CREATE TABLE analytics.level_started (user_id VARCHAR, ts TIMESTAMP, "
                    "level_started STRUCT(level INTEGER, difficulty VARCHAR))")
    finally:
        con.close()
    add_levels(root / WAREHOUSE, LEVELS)
    return root


def cli(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--project", str(root), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def values(capsys, root: Path, prop: str) -> dict[tuple[str, str], object]:
    code, out, err = cli(capsys, root, "property", "values", prop, "--format", "json")
    assert code == EXIT_OK, err
    return {(r["entity_id"], r["date"]): r["value"] for r in json.loads(out)}


def kpi(capsys, root: Path, kpi_id: str, *extra: str, to: str = "2026-01-03") -> str:
    code, out, err = cli(capsys, root, "kpi", "query", kpi_id, "--from", "2026-01-01", "--to", to, *extra)
    assert code == EXIT_OK, err
    return out


def test_struct_leaves_are_columns_of_the_warehouse(root):
    with Warehouse(root / WAREHOUSE) as warehouse:
        columns = warehouse.columns("my-game-prod.analytics.level_started")
        assert {n: c.warehouse_type for n, c in columns.items()} == {
            "user_id": "VARCHAR", "ts": "TIMESTAMP", "level_started.level": "INTEGER",
            "level_started.difficulty": "VARCHAR"}
        assert list(warehouse.columns("analytics.installs")) == ["user_id", "ts", "device.platform",
                                                                 "device.os_version"]
        assert warehouse.columns("my-game-dev.analytics.level_started") is None  # another project


def test_validate_refresh_values_and_kpis(capsys, root):
    code, out, _ = cli(capsys, root, "config", "validate")
    assert (code, out.strip()) == (EXIT_OK, "OK: 0 errors, 0 warnings; dry run: passed")
    code, out, err = cli(capsys, root, "model", "refresh")
    assert code == EXIT_OK, err
    assert "8 rows over 3 days (2026-01-01 .. 2026-01-03)" in out  # u1, u2: 3 days; u3: 2

    d1, d2, d3 = "2026-01-01", "2026-01-02", "2026-01-03"
    assert values(capsys, root, "max_level_on_day") == {
        ("u1", d1): 3, ("u1", d2): None, ("u1", d3): 2, ("u2", d1): 1, ("u2", d2): None, ("u2", d3): 4,
        ("u3", d2): 5, ("u3", d3): 6}
    assert values(capsys, root, "levels_started_on_day") == {
        ("u1", d1): 2, ("u1", d2): 0, ("u1", d3): 1, ("u2", d1): 1, ("u2", d2): 0, ("u2", d3): 1,
        ("u3", d2): 1, ("u3", d3): 1}
    assert values(capsys, root, "hard_levels_on_day") == {
        ("u1", d1): 1, ("u1", d2): 0, ("u1", d3): 1, ("u2", d1): 0, ("u2", d2): 0, ("u2", d3): 0,
        ("u3", d2): 1, ("u3", d3): 1}
    assert values(capsys, root, "level_points_on_day") == {
        ("u1", d1): 50, ("u1", d2): 0, ("u1", d3): 20, ("u2", d1): 10, ("u2", d2): 0, ("u2", d3): 40,
        ("u3", d2): 50, ("u3", d3): 60}
    assert values(capsys, root, "max_level_lifetime") == {
        ("u1", d1): 3, ("u1", d2): 3, ("u1", d3): 3, ("u2", d1): 1, ("u2", d2): 1, ("u2", d3): 4,
        ("u3", d2): 5, ("u3", d3): 6}
    assert set(values(capsys, root, "platform").items()) == {
        (("u1", d), "ios") for d in (d1, d2, d3)} | {(("u2", d), "android") for d in (d1, d2, d3)} | {
        (("u3", d), "ios") for d in (d2, d3)}

    # Integer KPIs print as integers.
    assert kpi(capsys, root, "levels_started") == "date,value\n2026-01-01,3\n2026-01-02,1\n2026-01-03,3\n"
    assert kpi(capsys, root, "level_points") == "date,value\n2026-01-01,60\n2026-01-02,50\n2026-01-03,120\n"
    assert kpi(capsys, root, "max_level", "--by", "platform") == (
        "date,platform,value\n2026-01-01,android,1\n2026-01-01,ios,3\n2026-01-02,android,1\n2026-01-02,ios,5\n"
        "2026-01-03,android,4\n2026-01-03,ios,6\n")
    assert kpi(capsys, root, "max_level", "--filter", "platform = ios") == (
        "date,value\n2026-01-01,3\n2026-01-02,5\n2026-01-03,6\n")

    # A new day arrives: the update reads the STRUCT fields of the new rows only.
    add_levels(root / WAREHOUSE, [("u2", "2026-01-04 10:00", 7, "hard"), ("u3", "2026-01-04 11:00", 2, "easy")])
    code, out, err = cli(capsys, root, "model", "update")
    assert code == EXIT_OK, err
    assert kpi(capsys, root, "level_points", to="2026-01-04").splitlines()[-1] == "2026-01-04,90"
    assert kpi(capsys, root, "max_level", "--by", "platform", to="2026-01-04").splitlines()[-2:] == [
        "2026-01-04,android,7", "2026-01-04,ios,6"]


def test_a_project_id_that_is_not_the_warehouses_blames_the_table_name(capsys, root):
    rel = "userentity/events/level_started.yml"
    path = root / rel
    path.write_text(path.read_text().replace("my-game-prod.analytics", "my-game-dev.analytics"))
    code, out, _ = cli(capsys, root, "config", "validate")
    assert code == EXIT_USER
    lines = out.splitlines()
    assert lines[0] == (f"{rel}:1: error [level_started.table_name]: table my-game-dev.analytics.level_started "
                        "does not exist in the warehouse")
    assert re.fullmatch(r"FAILED: 1 error, 0 warnings; dry run: failed \(1 error in \d+ checks\)", lines[1])
    assert len(lines) == 2


def test_a_malformed_table_name_is_refused_at_its_field(capsys, root):
    rel = "userentity/events/level_started.yml"
    path = root / rel
    path.write_text(path.read_text().replace("my-game-prod.analytics", "my-game-prod.ana-lytics"))
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    code, out, _ = cli(capsys, root, "config", "validate")
    assert code == EXIT_USER
    assert out.splitlines()[0] == (
        f"{rel}:1: error [level_started.table_name]: invalid table_name 'my-game-prod.ana-lytics.level_started': "
        "write table, schema.table or project.dataset.table (names of letters, digits and _, not starting with a "
        "digit; a project id may also hold hyphens, e.g. my-game-prod.analytics.events)")
    assert out.splitlines()[-1].startswith("FAILED: 1 error, 0 warnings;")
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_struct_field_that_does_not_exist(capsys, root):
    rel = "userentity/events/level_started.yml"
    path = root / rel
    path.write_text(path.read_text().replace("level_started.level: {data_type: INTEGER}",
                                             "level_started.lvl: {data_type: INTEGER}"))
    code, out, _ = cli(capsys, root, "config", "validate", "--format", "json")
    report = json.loads(out)
    errors = [(i["file"], i["line"], i["object_id"], i["field"], i["message"]) for i in report["issues"]]
    assert errors[0] == (rel, 7, "level_started", "columns.level_started.lvl",
                         "column 'level_started.lvl' does not exist in my-game-prod.analytics.level_started "
                         "(it has: user_id, ts, level_started.level, level_started.difficulty)")
    assert code == EXIT_USER
