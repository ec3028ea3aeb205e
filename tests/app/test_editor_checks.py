"""The editors gate Save on what the dry run knows, infer a property's data type, show
every error of a draft at once, and keep unsaved drafts on disk across sessions."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest
from studio_tree import block_of, create, errors_in

from asemic_core.editing.draft_store import load_draft

PROPERTIES = "pages/properties.py"


def test_a_kpi_that_does_not_compile_cannot_be_saved(kpis_page, studio_project) -> None:
    app = kpis_page
    create(app, "kpi", "country_sum")
    app.text_area(key="kpi_editor.select").input("SUM({property.country})").run()
    assert not app.exception, app.exception
    at_select = errors_in(block_of(app, "kpi_editor.select"))
    assert any("SUM does not take STRING values" in e and "sum(VARCHAR)" in e for e in at_select), at_select
    assert app.button(key="kpi_editor_save").disabled
    assert "country_sum" not in studio_project.files().kpis


def test_a_decimal_lifetime_sum_is_inferred_number_and_saved_so(properties_page, studio_project) -> None:
    app = properties_page
    create(app, "prop", "ad_revenue_lifetime", kind="lifetime_property")
    app.button_group(key="prop_editor.window.source").set_value("event").run()
    app.selectbox(key="prop_editor.inline_event.source_event").select("ad_view").run()
    app.selectbox(key="prop_editor.inline_event.aggregate_function").select("sum").run()
    app.text_input(key="prop_editor.inline_event.select").input("{revenue_usd}").run()
    assert not app.exception, app.exception
    assert app.selectbox(key="prop_editor.data_type").value == "NUMBER"
    assert any("produces **NUMBER**" in c.value for c in app.caption)
    assert not app.error, [e.value for e in app.error]
    assert not app.button(key="prop_editor_save").disabled
    app.button(key="prop_editor_save").click().run()
    saved = studio_project.files().properties["ad_revenue_lifetime"].model
    assert saved.data_type.value == "NUMBER"


def test_a_declared_type_that_truncates_is_an_error_at_the_field(properties_page, studio_project) -> None:
    app = properties_page
    create(app, "prop", "ad_revenue_on_day")
    app.selectbox(key="prop_editor.event.source_event").select("ad_view").run()
    app.selectbox(key="prop_editor.event.aggregate_function").select("sum").run()
    app.text_input(key="prop_editor.event.select").input("{revenue_usd}").run()
    assert app.selectbox(key="prop_editor.data_type").value == "NUMBER"
    app.selectbox(key="prop_editor.data_type").select("INTEGER").run()
    at_type = [e.value for e in app.error]
    assert any("data_type is INTEGER" in e and "NUMBER" in e for e in at_type), at_type
    assert app.button(key="prop_editor_save").disabled


def test_an_empty_id_does_not_hide_an_unknown_column(properties_page, studio_project) -> None:
    app = properties_page
    create(app, "prop", "")
    app.selectbox(key="prop_editor.event.source_event").select("ad_view").run()
    app.text_input(key="prop_editor.event.select").input("{no_such_column}").run()
    assert not app.exception, app.exception
    at_id = errors_in(block_of(app, "prop_editor.id"))
    at_select = errors_in(block_of(app, "prop_editor.event.select"))
    assert any("give the new object an id" in e for e in at_id), at_id
    assert any("no_such_column" in e for e in at_select), at_select


def test_an_unsaved_draft_comes_back_in_a_new_session(properties_page, studio_project) -> None:
    app = properties_page
    app.selectbox(key="prop_list.jump").select("dau_active").run()
    app.text_input(key="prop_editor.label").input("Active that day (draft)").run()
    stored = load_draft(studio_project.root, "prop")
    assert stored is not None and stored["label"] == "Active that day (draft)"

    again = AppTest.from_file(app._script_path, default_timeout=60)
    again.switch_page(PROPERTIES).run()
    assert not again.exception, again.exception
    assert again.text_input(key="prop_editor.label").value == "Active that day (draft)"
    assert any("Restored your unsaved changes" in i.value for i in again.info)
    assert again.query_params["property"] == "dau_active"


def test_leaving_a_changed_draft_asks_before_discarding(properties_page, studio_project) -> None:
    app = properties_page
    app.selectbox(key="prop_list.jump").select("dau_active").run()
    app.text_input(key="prop_editor.label").input("Changed").run()
    app.button(key="prop_editor_back").click().run()
    assert app.text_input(key="prop_editor.label").value == "Changed"  # still editing
    assert any("unsaved changes" in w.value for w in app.warning)
    app.button(key="prop_editor_keep").click().run()
    assert app.text_input(key="prop_editor.label").value == "Changed"
    app.button(key="prop_editor_back").click().run()
    app.button(key="prop_editor_discard").click().run()
    assert not app.exception, app.exception
    assert not [w for w in app.text_input if w.key == "prop_editor.label"]
    assert load_draft(studio_project.root, "prop") is None
    assert app.dataframe(key="prop_list.table.event_property") is not None
