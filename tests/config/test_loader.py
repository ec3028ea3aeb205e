"""Loading a project directory: lines of objects and fields, duplicates, file selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from asemic_core.config.loader import load_project
from asemic_core.config.yaml_io import parse_yaml

PROPS = "userentity/properties"


CURRENT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "asemic_current"


def only_errors(files):
    return [issue for issue in files.issues if issue.is_error]


def test_fixtures_load_without_issues(project, legacy_project):
    for workspace in (project, legacy_project):
        files = load_project(workspace.root)
        assert files.issues == [] and files.ok
        assert files.deployment.model.warehouse.path == "warehouse.duckdb"
        assert files.entity.model.active_days == 30


def test_current_fixture_counts(project):
    files = load_project(project.root)
    assert set(files.events) == {"ad_view", "level_completed", "purchase", "registration", "session"}
    assert {"dau_active", "level_band", "registration_date", "revenue_launch_week", "is_payer"} <= set(files.properties)
    assert {"dau", "retention_d{}", "ltv_d{}", "total_revenue"} <= set(files.kpis)
    assert set(files.documents) == {
        p.relative_to(project.root).as_posix() for p in project.root.rglob("*.yml")
    }


# ------------------------------------------------------------------ file and line


def test_objects_know_their_file_and_line(project):
    files = load_project(project.root)
    rel = f"{PROPS}/activity.yml"
    prop = files.properties["playtime_on_day"]
    assert (prop.file, prop.line) == (rel, project.line(rel, "  playtime_on_day:"))
    assert prop.field_line("event_property", "select") == project.line(rel, "select: '{session_length_s}'")
    assert prop.field_line("event_property", "default_value") == project.line(
        rel, "default_value: 0", after="  playtime_on_day:")
    assert prop.field_line("description") == project.line(rel, "description: Total session length")
    # a field that is not written falls back to the closest written ancestor
    assert prop.field_line("event_property", "where") == project.line(rel, "    event_property:\n      source_event: session")

    kpi = files.kpis["avg_playtime_minutes"]
    krel = "userentity/kpis/activity.yml"
    assert (kpi.file, kpi.line) == (krel, project.line(krel, "  avg_playtime_minutes:"))
    assert kpi.field_line("unit", "symbol") == project.line(krel, "symbol: ' min'")
    assert kpi.field_line("x_axis", "date", "total_function") == project.line(
        krel, "        total_function: avg\n      cohort_day: {}\n")

    event = files.events["session"]
    erel = "userentity/events/session.yml"
    assert (event.file, event.line) == (erel, 1)
    assert event.field_line("columns", "session_length_s", "label") == project.line(erel, "label: Session Length")
    assert event.field_line("tags") == project.line(erel, "tags: [registration_event, activity_event]")

    entity = files.entity
    assert entity.file == "userentity/config.yml"
    assert entity.field_line("model_settings", "lookback_days") == project.line("userentity/config.yml", "lookback_days")
    assert files.deployment.field_line("warehouse", "path") == 1


def test_list_items_know_their_line(project):
    files = load_project(project.root)
    rel = f"{PROPS}/ads_and_levels.yml"
    prop = files.properties["level_band"]
    assert prop.field_line("computed_property", "value_mappings", 1, "new_value") == project.line(rel, "new_value: Mid game")
    assert prop.field_line("computed_property", "value_mappings", 2) == project.line(rel, "- range: {from: 50}")


def test_field_line_finds_the_legacy_name_actually_written(legacy_project):
    files = load_project(legacy_project.root)
    rel = f"{PROPS}/activity.yml"
    prop = files.properties["playtime_on_day"]
    assert prop.field_line("event_property", "source_event") == legacy_project.line(rel, "source_action: login\n")
    inner = files.properties["last_login_date"]
    assert inner.field_line("lifetime_property", "source_event_property") == legacy_project.line(
        rel, "source_action_property: {source_action: login, select: '{event_date}'")


def test_yaml_lines_of_keys_and_items():
    doc, issues = parse_yaml("# comment\na:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n", "f.yml")
    assert issues == []
    assert doc.data == {"a": {"b": 1, "c": ["x", {"d": 2}]}}
    assert doc.line_of(("a",)) == 2
    assert doc.line_of(("a", "b")) == 3
    assert doc.line_of(("a", "c", 0)) == 5
    assert doc.line_of(("a", "c", 1, "d")) == 6
    assert doc.line_of(("a", "missing", "deeper")) == 2


def test_yaml_scalars_are_plain_python():
    doc, _ = parse_yaml("a: 1\nb: 1.5\nc: true\nd: 2024-01-02\ne: x\nf: ~\n", "f.yml")
    assert [type(v).__name__ for v in doc.data.values()] == ["int", "float", "bool", "date", "str", "NoneType"]


def test_impossible_date_stays_text_instead_of_crashing():
    doc, issues = parse_yaml("start_date: 2025-02-30\nok: 2024-02-29\n", "f.yml")
    assert issues == []
    assert doc.data["start_date"] == "2025-02-30"
    assert doc.data["ok"].isoformat() == "2024-02-29"


# ------------------------------------------------------------------ duplicate keys


def test_duplicate_yaml_key_names_both_lines(project):
    rel = f"{PROPS}/activity.yml"
    anchor = "    event_property:\n      source_event: session\n      select: '{session_length_s}'"
    project.replace(rel, anchor, "    data_type: INTEGER\n" + anchor)
    first = project.line(rel, "data_type: NUMBER", after="  playtime_on_day:")
    second = project.line(rel, "data_type: INTEGER\n    event_property:\n      source_event: session")
    assert first < second
    errors = only_errors(load_project(project.root))
    assert len(errors) == 1
    assert (errors[0].file, errors[0].line) == (rel, second)
    assert f"duplicate key 'data_type': already defined on line {first}" in errors[0].message


def test_same_property_twice_in_one_file_is_a_duplicate_key(project):
    rel = f"{PROPS}/activity.yml"
    project.append(rel, "  dau_active:\n    data_type: INTEGER\n    computed_property: {select: '1'}\n")
    first = project.line(rel, "  dau_active:\n    data_type: INTEGER\n    can_filter")
    second = project.line(rel, "  dau_active:\n    data_type: INTEGER\n    computed_property")
    errors = only_errors(load_project(project.root))
    assert len(errors) == 1
    assert (errors[0].file, errors[0].line) == (rel, second)
    assert f"duplicate key 'dau_active': already defined on line {first}" in errors[0].message


# ------------------------------------------------------------ duplicate ids across files


def test_property_defined_in_two_files_names_both(project):
    project.write(f"{PROPS}/more.yml", "properties:\n  dau_active:\n    data_type: INTEGER\n    computed_property: {select: '1'}\n")
    errors = only_errors(load_project(project.root))
    assert len(errors) == 1
    issue = errors[0]
    assert (issue.file, issue.line, issue.object_id) == (f"{PROPS}/more.yml", 2, "dau_active")
    first_line = project.line(f"{PROPS}/activity.yml", "  dau_active:")
    assert f"{PROPS}/activity.yml:{first_line}" in issue.message
    assert f"{PROPS}/more.yml:2" in issue.message


def test_kpi_defined_in_two_files_names_both(project):
    project.write("userentity/kpis/more.yml", "kpis:\n  dau:\n    select: SUM({property.dau_active})\n    x_axis: {date: {}}\n")
    errors = only_errors(load_project(project.root))
    assert len(errors) == 1
    assert errors[0].object_id == "dau" and errors[0].file == "userentity/kpis/more.yml"
    assert "userentity/kpis/activity.yml" in errors[0].message and "userentity/kpis/more.yml" in errors[0].message


def test_event_in_events_and_actions_names_both(project):
    project.write("userentity/actions/purchase.yml", project.read("userentity/events/purchase.yml"))
    errors = only_errors(load_project(project.root))
    assert len(errors) == 1
    assert errors[0].object_id == "purchase"
    assert "userentity/events/purchase.yml" in errors[0].message
    assert "userentity/actions/purchase.yml" in errors[0].message


def test_event_as_yml_and_yaml_names_both(project):
    project.write("userentity/events/purchase.yaml", project.read("userentity/events/purchase.yml"))
    errors = only_errors(load_project(project.root))
    assert len(errors) == 1
    assert "userentity/events/purchase.yml" in errors[0].message
    assert "userentity/events/purchase.yaml" in errors[0].message


# ----------------------------------------------------------------- which files are read


def _summary(files):
    return (
        {k: v.model for k, v in files.events.items()},
        {k: v.model for k, v in files.properties.items()},
        {k: v.model for k, v in files.kpis.items()},
    )


def test_hidden_and_non_yaml_files_are_ignored(project):
    before = _summary(load_project(project.root))
    garbage = "{{{ not yaml: [\n"
    for rel in [
        f"{PROPS}/.hidden.yml",
        f"{PROPS}/.#activity.yml",
        f"{PROPS}/notes.txt",
        f"{PROPS}/README.md",
        f"{PROPS}/activity.yml.bak",
        f"{PROPS}/activity.yml~",
        f"{PROPS}/.drafts/extra.yml",
        "userentity/kpis/.old/kpis.yml",
        "userentity/kpis/.kpis.yml",
        "userentity/events/.purchase.yml",
        "userentity/events/purchase.json",
        "userentity/events/notes.txt",
        "userentity/.config.yml",
    ]:
        project.write(rel, garbage)
    files = load_project(project.root)
    assert files.issues == []
    assert _summary(files) == before


def test_hidden_project_parent_directory_is_fine(tmp_path, project):
    hidden_parent = tmp_path / ".workspace"
    hidden_parent.mkdir()
    moved = project.root.rename(hidden_parent / "project")
    files = load_project(moved)
    assert files.issues == []
    assert sorted(files.properties) == sorted(load_project(CURRENT_FIXTURE).properties)


def test_yaml_extension_is_accepted(project):
    before = _summary(load_project(project.root))
    for rel in (f"{PROPS}/revenue.yml", "userentity/kpis/levels.yml", "userentity/events/ad_view.yml"):
        project.path(rel).rename(project.path(rel[:-4] + ".yaml"))
    files = load_project(project.root)
    assert files.issues == []
    assert _summary(files) == before
    assert files.events["ad_view"].file == "userentity/events/ad_view.yaml"
    assert files.properties["revenue_on_day"].file == f"{PROPS}/revenue.yaml"


def test_properties_in_subdirectories_are_read(project):
    project.path(f"{PROPS}/revenue.yml").rename(project.root / "revenue.tmp")
    project.path(f"{PROPS}/money").mkdir()
    (project.root / "revenue.tmp").rename(project.path(f"{PROPS}/money/revenue.yml"))
    files = load_project(project.root)
    assert files.issues == []
    assert files.properties["revenue_on_day"].file == f"{PROPS}/money/revenue.yml"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "properties:\n", "properties: {}\n", "properties: ~\n"])
def test_empty_properties_file_is_fine(project, text):
    before = _summary(load_project(project.root))
    project.write(f"{PROPS}/empty.yml", text)
    project.write("userentity/kpis/empty.yml", text.replace("properties", "kpis"))
    files = load_project(project.root)
    assert files.issues == []
    assert _summary(files) == before
    assert project.errors() == []


# ------------------------------------------------------------------ malformed files


@pytest.mark.parametrize(
    "rel, text, line, message",
    [
        (f"{PROPS}/list.yml", "- a\n- b\n", 1, "expected a mapping with the top key 'properties:'"),
        (f"{PROPS}/scalar.yml", "# c\nproperties: 3\n", 2, "'properties:' must be a mapping"),
        (f"{PROPS}/body.yml", "properties:\n  x: 3\n", 2, "expected a mapping of fields"),
        (f"{PROPS}/top.yml", "properties: {}\nkpis: {}\n", 2, "unknown top-level key 'kpis'"),
        ("userentity/kpis/top.yml", "kpis: {}\nproperties: {}\n", 2, "unknown top-level key 'properties'"),
        ("userentity/events/e.yml", "- 1\n", 1, "expected a mapping of event fields"),
        ("userentity/events/e.yml", "", 1, "expected a mapping of event fields"),
        ("asemic.yml", "", 1, "expected a mapping of fields"),
        ("userentity/config.yml", "[1, 2]\n", 1, "expected a mapping of fields"),
    ],
)
def test_malformed_file_shapes(project, rel, text, line, message):
    project.write(rel, text)
    errors = only_errors(load_project(project.root))
    assert [(e.file, e.line) for e in errors] == [(rel, line)]
    assert message in errors[0].message


def test_missing_files(project):
    project.delete("asemic.yml")
    project.delete("userentity/config.yml")
    errors = only_errors(load_project(project.root))
    assert [(e.file, e.message) for e in errors] == [
        ("asemic.yml", "missing file asemic.yml"),
        ("userentity/config.yml", "missing file userentity/config.yml"),
    ]


def test_not_utf8(project):
    project.path("userentity/events/x.yml").write_bytes(b"table_name: \xff\xfe\n")
    errors = only_errors(load_project(project.root))
    assert len(errors) == 1 and errors[0].file == "userentity/events/x.yml"
    assert "not UTF-8" in errors[0].message


def test_missing_project_directory(tmp_path):
    files = load_project(tmp_path / "nowhere")
    assert len(files.issues) == 1 and "does not exist" in files.issues[0].message


def test_one_bad_object_does_not_hide_the_others(project):
    rel = f"{PROPS}/activity.yml"
    project.replace(rel, "    sliding_window_property: {source_property: dau_active, window_function: max, relative_days_from: -6",
                    "    sliding_window_property: {source_property: dau_active, window_function: median, relative_days_from: -6")
    files = load_project(project.root)
    errors = only_errors(files)
    assert [(e.object_id, e.field) for e in errors] == [("wau_active", "sliding_window_property.window_function")]
    assert "wau_active" not in files.properties
    assert "mau_active" in files.properties and "dau_active" in files.properties
