"""Checking an unsaved event table against the whole project, without touching it."""

from __future__ import annotations

from asemic_core.config.draft import introduced_errors
from asemic_core.config.model_data import to_yaml_data
from asemic_core.issues import Issue
from asemic_core.project import Project

NEW_TABLE = {
    "table_name": "game.sessions",
    "columns": {"user_id": {"data_type": "STRING", "tags": ["entity_id_column"]},
                "event_ts": {"data_type": "DATETIME", "tags": ["event_timestamp_column"]}},
    "label": "Another session table",
}


def test_introduced_errors_ignore_lines():
    old = Issue("a.yml", 3, "bad", object_id="x", field="where")
    moved = Issue("a.yml", 5, "bad", object_id="x", field="where")
    new = Issue("a.yml", 5, "worse", object_id="x", field="where")
    assert introduced_errors([old], [moved, new]) == [new]


def test_valid_new_table_passes_and_writes_nothing(project_dw):
    before = project_dw.snapshot()
    check = Project(project_dw.root).check_event_draft("session_copy", NEW_TABLE, new=True)
    assert check.ok, [i.format() for i in check.introduced]
    assert check.rel_file == "userentity/events/session_copy.yml"
    assert project_dw.snapshot() == before


def test_new_table_errors_are_placed_on_fields(project_dw):
    data = {**NEW_TABLE, "columns": {"user_id": {"data_type": "STRING"},
                                     "event_ts": {"data_type": "DATETIME", "tags": ["event_timestamp_column"]}},
            "where": "{missing} > 1"}
    check = Project(project_dw.root).check_event_draft("session_copy", data, new=True)
    fields = {(i.object_id, i.field) for i in check.introduced}
    assert ("session_copy", "columns") in fields
    assert ("session_copy", "where") in fields


def test_dry_run_finds_a_missing_warehouse_table(project_dw):
    check = Project(project_dw.root).check_event_draft("nowhere", {**NEW_TABLE, "table_name": "game.nowhere"}, new=True)
    assert [(i.field, "does not exist" in i.message) for i in check.introduced] == [("table_name", True)]


def test_new_id_must_be_free_and_well_formed(project_dw):
    for event_id, words in (("session", "already exists"), ("2x", "invalid event id"),
                            ("entity_activity", "reserved")):
        check = Project(project_dw.root).check_event_draft(event_id, NEW_TABLE, new=True)
        assert not check.ok
        assert [i.field for i in check.introduced] == ["id"]
        assert words in check.introduced[0].message


def test_edit_reports_errors_it_causes_elsewhere(project_dw):
    files = Project(project_dw.root).files()
    baseline = Project(project_dw.root).validate().issues
    purchase = files.events["purchase"]
    data = to_yaml_data(purchase.model)
    amount = next(n for n in data["columns"] if "amount" in n)
    del data["columns"][amount]
    check = Project(project_dw.root).check_event_draft("purchase", data, new=False, baseline=baseline)
    assert not check.ok
    # the table's own where and the three properties that read {amount_usd} (grep the fixture)
    assert sorted(i.object_id for i in check.introduced) == [
        "biggest_purchase_on_day", "purchase", "revenue_on_day", "smallest_purchase_lifetime"]
    assert {i.message for i in check.introduced if i.object_id != "purchase"} == {
        "select references {amount_usd}, which is not a column of purchase"}


def test_unchanged_edit_introduces_nothing(project_dw):
    files = Project(project_dw.root).files()
    baseline = Project(project_dw.root).validate().issues
    data = to_yaml_data(files.events["session"].model)
    check = Project(project_dw.root).check_event_draft("session", data, new=False, baseline=baseline)
    assert check.ok and check.rel_file == files.events["session"].file
