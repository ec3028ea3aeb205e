"""The Properties page: list by kind, form editor, field errors, preview, save and delete."""

from __future__ import annotations

import re

import pytest
from studio_tree import block_of, errors_in, open_object, submit

from asemic_core.config.models import Property


def object_lines(text: str, object_id: str) -> tuple[int, int]:
    """0-based [start, end) of an object's lines under ``properties:``/``kpis:``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^  {re.escape(object_id)}:\s*$", line))
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^  \S", lines[i])), len(lines))
    return start, end


@pytest.fixture
def page(properties_page):
    return properties_page


def test_list_shows_every_property_grouped_by_kind(page, studio_project) -> None:
    files = studio_project.files()
    headings = [s.value for s in page.subheader]
    titles = {"event_property": "Event properties", "sliding_window_property": "Sliding-window properties",
              "computed_property": "Computed properties", "lifetime_property": "Lifetime properties",
              "registration_property": "Registration properties"}
    for kind, title in titles.items():
        count = sum(1 for located in files.properties.values() if located.model.kind == kind)
        assert f"{title} · {count}" in headings
    table = page.dataframe(key="prop_list.table.event_property").value
    assert set(table["Id"]) == {i for i, loc in files.properties.items() if loc.model.kind == "event_property"}
    row = table[table["Id"] == "revenue_on_day"].iloc[0]
    located = files.properties["revenue_on_day"]
    assert f"userentity/properties/{row['File']}" == f"{located.file}:{located.line}"
    assert row["Type"] == "NUMBER" and row["Label"] == "Revenue on day"


def test_search_and_kind_filter_narrow_the_list(page) -> None:
    page.text_input(key="prop_list.search").input("revenue").run()
    headings = [s.value for s in page.subheader]
    assert any(h.startswith("Event properties") for h in headings)
    assert not any(h.startswith("Registration properties") for h in headings)
    page.text_input(key="prop_list.search").input("").run()
    page.pills(key="prop_list.kinds").set_value(["lifetime_property"]).run()
    assert [s.value.split(" · ")[0] for s in page.subheader] == ["Lifetime properties"]


def test_creating_an_event_property_through_the_form_writes_the_yaml(page, studio_project) -> None:
    before = {rel: (studio_project.root / rel).read_text() for rel in
              ("userentity/properties/activity.yml", "userentity/properties/registration.yml")}
    page.text_input(key="prop_new.id").input("sessions_on_day")
    page.selectbox(key="prop_new.kind").select("event_property")
    submit(page, "prop_new")
    assert not page.exception
    assert page.session_state["prop_editor"]["id"] == "sessions_on_day"
    page.selectbox(key="prop_editor.event.source_event").select("session").run()
    page.selectbox(key="prop_editor.event.aggregate_function").select("count").run()
    page.text_input(key="prop_editor.event.select").input("{user_id}").run()
    page.text_input(key="prop_editor.event.default_value").input("0").run()
    page.text_input(key="prop_editor.label").input("Sessions on day").run()
    assert not page.error, [e.value for e in page.error]
    page.button(key="prop_editor_save").click().run()
    assert not page.exception

    located = studio_project.files().properties["sessions_on_day"]
    assert located.model == Property.model_validate({
        "data_type": "INTEGER", "label": "Sessions on day",
        "event_property": {"source_event": "session", "select": "{user_id}", "aggregate_function": "count",
                           "default_value": 0}})
    # Event properties go to the file holding most event properties; nothing else changed.
    assert located.file == "userentity/properties/revenue.yml"
    for rel, text in before.items():
        assert (studio_project.root / rel).read_text() == text
    assert "Saved **sessions_on_day**" in page.toast[0].value
    page.button(key="prop_editor_back").click().run()
    table = page.dataframe(key="prop_list.table.event_property").value
    assert "sessions_on_day" in set(table["Id"])


def test_creating_a_sliding_window_property_with_an_inline_event_source(page, studio_project) -> None:
    page.text_input(key="prop_new.id").input("purchases_last_3_days")
    page.selectbox(key="prop_new.kind").select("sliding_window_property")
    submit(page, "prop_new")
    page.number_input(key="prop_editor.window.relative_days_from").set_value(-2).run()
    assert any("the 3 days ending on the day" in c.value for c in page.caption)
    page.segmented_control(key="prop_editor.window.source").set_value("event").run()
    page.selectbox(key="prop_editor.inline_event.source_event").select("purchase").run()
    page.text_input(key="prop_editor.inline_event.select").input("{transaction_id}").run()
    page.button(key="prop_editor_save").click().run()
    model = studio_project.files().properties["purchases_last_3_days"].model
    assert model.sliding_window_property.relative_days_from == -2
    assert model.sliding_window_property.source_event_property.select == "{transaction_id}"
    assert model.sliding_window_property.source_event_property.aggregate_function == "count"


def test_editing_a_property_changes_only_its_own_lines(page, studio_project) -> None:
    path = studio_project.root / "userentity/properties/revenue.yml"
    before = path.read_text()
    open_object(page, "prop", "revenue_on_day")
    page.text_input(key="prop_editor.event.select").input("{amount_usd} * 0.7").run()
    page.text_input(key="prop_editor.description").input("Net revenue (after store fees) on the day").run()
    page.button(key="prop_editor_save").click().run()
    assert not page.exception

    after = path.read_text()
    start, end = object_lines(before, "revenue_on_day")
    new_start, new_end = object_lines(after, "revenue_on_day")
    assert before.splitlines()[:start] == after.splitlines()[:new_start]
    assert before.splitlines()[end:] == after.splitlines()[new_end:]
    model = studio_project.files().properties["revenue_on_day"].model
    assert model.event_property.select == "{amount_usd} * 0.7"
    assert model.description == "Net revenue (after store fees) on the day"
    # Saved: the editor now shows the saved definition, nothing left to save.
    assert page.button(key="prop_editor_save").disabled


def test_a_window_ending_before_it_starts_shows_the_error_next_to_the_field(page, studio_project) -> None:
    path = studio_project.root / "userentity/properties/activity.yml"
    before = path.read_text()
    open_object(page, "prop", "days_active_last_7_days")
    page.number_input(key="prop_editor.window.relative_days_from").set_value(3).run()
    assert not page.exception
    near = errors_in(block_of(page, "prop_editor.window.relative_days_from"))
    assert any("relative_days_from (3)" in text and "relative_days_to (0)" in text for text in near)
    assert page.button(key="prop_editor_save").disabled  # the browser cannot save it
    assert path.read_text() == before
    assert not page.get("vega_lite_chart")
    assert any("Fix the errors" in i.value for i in page.info)


def test_an_unknown_reference_shows_the_error_next_to_the_select(page, studio_project) -> None:
    path = studio_project.root / "userentity/properties/activity.yml"
    before = path.read_text()
    open_object(page, "prop", "is_churned")
    page.text_area(key="prop_editor.computed.select").input("{days_since_last_seen} >= 7").run()
    near = errors_in(block_of(page, "prop_editor.computed.select"))
    assert any("unknown property {days_since_last_seen}" in text for text in near)
    assert page.button(key="prop_editor_save").disabled
    assert path.read_text() == before


def test_an_inline_source_error_is_shown_at_the_inline_field(page, studio_project) -> None:
    path = studio_project.root / "userentity/properties/activity.yml"
    before = path.read_text()
    open_object(page, "prop", "days_active_last_7_days")
    page.segmented_control(key="prop_editor.window.source").set_value("computed").run()
    page.text_area(key="prop_editor.inline_computed.select").input("{dau_actve} * 2").run()
    near = errors_in(block_of(page, "prop_editor.inline_computed.select"))
    assert any("{dau_actve}" in text for text in near)
    assert page.button(key="prop_editor_save").disabled
    assert path.read_text() == before


def test_an_event_select_naming_a_missing_column_is_reported_at_the_select(page) -> None:
    open_object(page, "prop", "revenue_on_day")
    page.text_input(key="prop_editor.event.select").input("{amount_eur}").run()
    near = errors_in(block_of(page, "prop_editor.event.select"))
    assert any("{amount_eur}" in text and "not a column of purchase" in text for text in near)


def test_a_new_property_needs_a_free_id(page) -> None:
    page.text_input(key="prop_new.id").input("dau_active")
    submit(page, "prop_new")
    near = errors_in(block_of(page, "prop_editor.id"))
    assert any("already exists" in text for text in near)
    page.text_input(key="prop_editor.id").input("2fast").run()
    assert any("not a valid id" in text for text in errors_in(block_of(page, "prop_editor.id")))


def test_preview_shows_the_distribution_and_the_impact(page) -> None:
    open_object(page, "prop", "days_active_last_7_days")
    assert page.get("vega_lite_chart"), "a distribution chart"
    assert any(i.value.startswith("No change") for i in page.info)
    page.number_input(key="prop_editor.window.relative_days_from").set_value(-2).run()
    assert not page.exception
    assert page.get("vega_lite_chart")
    impact = [w.value for w in page.warning if "user-days change" in w.value]
    assert impact and re.match(r"^[\d,]+ of [\d,]+ user-days change", impact[0])
    table = [d for d in page.dataframe if d.key is None and "draft" in d.value.columns]
    assert table and {"date", "draft", "saved", "changed"} <= set(table[0].value.columns)


def test_column_and_property_helpers_insert_references(page) -> None:
    open_object(page, "prop", "is_churned")
    page.selectbox(key="prop_editor._insert.computed.select").select("dau_active").run()
    assert page.text_area(key="prop_editor.computed.select").value.endswith("{dau_active}")
    assert page.session_state["prop_editor"]["computed"]["select"].endswith("{dau_active}")


def test_switching_kind_keeps_what_was_typed(page) -> None:
    open_object(page, "prop", "revenue_on_day")
    page.selectbox(key="prop_editor.kind").select("lifetime_property").run()
    assert page.selectbox(key="prop_editor.window.merge_function")
    page.selectbox(key="prop_editor.kind").select("event_property").run()
    assert page.text_input(key="prop_editor.event.select").value == "{amount_usd}"


def test_source_property_choices_leave_out_itself_and_its_readers(page) -> None:
    open_object(page, "prop", "days_active_last_7_days")
    options = page.selectbox(key="prop_editor.window.source_property").options
    assert "days_active_last_7_days" not in options
    assert "activity_segment" not in options  # reads days_active_last_7_days: a cycle
    assert "dau_active" in options and not any(o.endswith("__inner") for o in options)


def test_delete_asks_for_confirmation(page, studio_project) -> None:
    open_object(page, "prop", "build_version")
    page.button(key="prop_editor_delete").click().run()
    assert "build_version" in studio_project.files().properties
    page.button(key="prop_editor_cancel_delete").click().run()
    page.button(key="prop_editor_delete").click().run()
    page.button(key="prop_editor_confirm_delete").click().run()
    assert not page.exception
    assert "build_version" not in studio_project.files().properties
    assert "platform" in studio_project.files().properties
    assert any("Event properties" in s.value for s in page.subheader), "back on the list"
