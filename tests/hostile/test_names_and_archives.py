"""The identifier rule, the quoting helpers, and Asemic CLI archives through `config import`."""

from __future__ import annotations

import copy

import io
import json
import zipfile
from pathlib import Path

import duckdb
import pytest

from asemic_core.cli import main
from asemic_core.config.yaml_io import MAX_NODES, parse_yaml
from asemic_core.names import identifier_problem, quote_name, quote_names, sql_string, sql_string_list, suggest_name

TWIN = ("    data_type: INTEGER\n"
        "    event_property: {source_event: session, select: '{user_id}', aggregate_function: count, "
        "default_value: 0}\n")


@pytest.mark.parametrize("name, fix", [
    ('a"b', "a_b"),
    ("it's", "it_s"),
    ("x; DROP TABLE users", "x_DROP_TABLE_users"),
    ("x/*y*/", "x_y"),
    ("café", "cafe"),
    ("7day", "_7day"),
    ("🎮", "name"),
    ("a.b", "a_b"),
    ("p" * 300, "p" * 128),
])
def test_a_bad_name_gets_a_fix_that_follows_the_rule(name, fix):
    assert identifier_problem(name) is not None
    assert suggest_name(name) == fix
    assert identifier_problem(fix) is None


def test_the_rule_accepts_what_real_configs_use():
    for name in ("dau", "_date", "ltv_d7", "Revenue2", "select", "s" * 128):
        assert identifier_problem(name) is None, name
    assert identifier_problem("retention_d{}", template_slot=True) is None
    assert identifier_problem("retention_d{}", template_slot=False) is not None
    assert suggest_name('ret"d{}', template_slot=True) == "ret_d{}"


def test_quoted_names_and_strings_round_trip_through_duckdb():
    hostile = ['a"b', "it's", "x; DROP TABLE t; --", "/* c */", "naïve ✓", "back\\slash"]
    con = duckdb.connect()
    try:
        select = ", ".join(f"{sql_string(name)} AS {quote_name(name)}" for name in hostile)
        cursor = con.execute(f"SELECT {select}")
        assert [d[0] for d in cursor.description] == hostile
        assert list(cursor.fetchall()[0]) == hostile
        con.execute(f"CREATE TABLE t AS SELECT {select}")
        assert con.execute(f"SELECT {quote_names(hostile, 't')} FROM t").fetchall()[0] == tuple(hostile)
    finally:
        con.close()
    assert sql_string_list(["/a/it's/*.parquet"]) == "['/a/it''s/*.parquet']"


def test_billion_laughs_is_refused_at_its_line():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[index]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    doc, issues = parse_yaml("\n".join(lines) + "\n", "userentity/properties/x.yml")
    assert doc is None
    assert [(i.file, i.line, i.rule) for i in issues] == [("userentity/properties/x.yml", 9, "yaml-limits")]
    assert f"'i' expands to more than {MAX_NODES:,} values" in issues[0].message


def test_anchors_within_the_bounds_load():
    doc, issues = parse_yaml("base: &b {x: 1, y: [1, 2]}\nuse:\n  <<: *b\n  z: 3\ncopy: *b\n", "a.yml")
    assert issues == []
    assert doc.data == {"base": {"x": 1, "y": [1, 2]}, "use": {"x": 1, "y": [1, 2], "z": 3},
                        "copy": {"x": 1, "y": [1, 2]}}


def _values(root: Path, prop: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["--project", str(root), "property", "values", prop, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_name_that_slips_past_validation_cannot_change_a_statement(project_dw, monkeypatch, capsys):
    """With the rule switched off, a hostile column name is still only a name in every statement."""
    monkeypatch.setattr("asemic_core.config.loader.name_issues", lambda files: [])
    hostile = 'a"b; DROP TABLE x; --'
    project_dw.append("userentity/properties/activity.yml", f"  '{hostile.replace(chr(39), chr(39) * 2)}':\n" + TWIN)
    root = project_dw.root
    assert main(["--project", str(root), "config", "validate"]) == 0
    assert main(["--project", str(root), "model", "refresh"]) == 0
    expected = _values(root, "sessions_on_day", capsys)
    assert _values(root, hostile, capsys) == expected
    assert main(["--project", str(root), "model", "update", "--property", hostile]) == 0
    assert _values(root, hostile, capsys) == expected
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        sessions = con.execute("SELECT count(*) FROM game.sessions").fetchall()[0][0]
    finally:
        con.close()
    assert sum(row["value"] for row in expected) == sessions


def test_the_catalog_quotes_a_hostile_schema_name(project_dw):
    from asemic_core.project import Project
    from asemic_core.storage.duckdb_views import write_views

    root = project_dw.root
    assert main(["--project", str(root), "model", "refresh"]) == 0
    project = Project(root)
    store = project.model_store()
    resolved = project.resolved()
    hostile = copy.copy(resolved)
    # past the config boundary's identifier rule: the views file must quote it anyway
    hostile.entity = resolved.entity.model_copy(update={"data_model_schema": 'm"x; DROP SCHEMA main; --'})
    path = write_views(store, hostile)
    con = duckdb.connect(str(path), read_only=True)
    try:
        counts = {table: con.execute(f'SELECT count(*) FROM "m""x; DROP SCHEMA main; --".{table}').fetchall()[0][0]
                  for table in ("daily", "daily_stored", "users")}
    finally:
        con.close()
    direct = duckdb.connect()
    try:
        for table, view in (("daily", "daily_stored"), ("users", "users")):
            files = ", ".join(repr(f.path) for f in store.snapshot(table).files)
            assert counts[view] == direct.execute(f"SELECT count(*) FROM read_parquet([{files}])").fetchall()[0][0] > 0
    finally:
        direct.close()
    assert counts["daily"] == project.status().rows >= counts["daily_stored"]  # the logical model: every user-day


# ------------------------------------------------------------------ Asemic CLI archives


def _entity_tree(root: Path) -> dict[str, bytes]:
    base = root / "userentity"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def _archive(tree: dict[str, bytes], prefix: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel, data in tree.items():
            archive.writestr(prefix + rel, data)
        if prefix:
            archive.writestr("__MACOSX/._config.yml", b"\x00")  # debris of a zip made on a Mac
    return buffer.getvalue()


@pytest.mark.parametrize("prefix", ["userentity/", "exported/userentity/", ""],
                         ids=["entity-tree-at-the-root", "inside-one-folder", "entity-folder-contents"])
def test_an_asemic_cli_archive_round_trips(prefix, project_dw, copy_fixture, tmp_path, warehouse_template, capsys):
    """The archive's entity tree replaces the project's; the project's asemic.yml stays."""
    source = project_dw
    source.append("userentity/properties/activity.yml", "  sessions_twin:\n" + TWIN)
    tree = _entity_tree(source.root)
    archive = tmp_path / "asemic-cli-export.zip"
    archive.write_bytes(_archive(tree, prefix))

    target = copy_fixture(tmp_path / "target")
    target.write("asemic.yml", "# kept by the import\nname: target\nwarehouse: {type: duckdb, path: warehouse.duckdb}\n")
    (target.root / "warehouse.duckdb").write_bytes(warehouse_template.read_bytes())
    asemic_before = target.read("asemic.yml")
    capsys.readouterr()
    assert main(["--project", str(target.root), "config", "import", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "Kept the project's asemic.yml" in out
    assert target.read("asemic.yml") == asemic_before
    assert _entity_tree(target.root) == tree
    assert not [p.name for p in target.root.iterdir() if p.name.startswith(".import")]
    assert _values(target.root, "sessions_twin", capsys) == _values(target.root, "sessions_on_day", capsys)

    # Exported again, the archive holds the same entity tree (and the kept asemic.yml).
    out_zip = tmp_path / "again.zip"
    assert main(["--project", str(target.root), "config", "export", "--out", str(out_zip)]) == 0
    with zipfile.ZipFile(out_zip) as again:
        names = again.namelist()
        assert {n[len("userentity/"):]: again.read(n) for n in names if n.startswith("userentity/")} == tree
        assert again.read("asemic.yml").decode() == asemic_before
