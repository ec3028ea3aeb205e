"""The KPIs page: list (templates once), form editor with formula helper, field errors,
preview, save and delete."""

from __future__ import annotations

import re

import pytest
from studio_tree import block_of, create, errors_in, open_object

from asemic_core.config.models import Kpi


def object_lines(text: str, object_id: str) -> tuple[int, int]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {object_id}:"))
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^  \S", lines[i])), len(lines))
    return start, end


@pytest.fixture
def page(kpis_page):
    return kpis_page


def test_list_shows_templated_kpis_once_with_their_values(page, studio_project) -> None:
    table = page.dataframe(key="kpi_list.table").value
    files = studio_project.files()
    assert list(table["Id"]) == list(files.kpis)
    templated = table[table["Id"] == "retention_d{}"]
    assert len(templated) == 1
    assert templated.iloc[0]["Template values"] == "cohort_day: 0, 1, 3, 7, 14, 28"
    assert not any(i.startswith("retention_d") and i != "retention_d{}" for i in table["Id"])
    located = files.kpis["dau"]
    assert "userentity/kpis/" + table[table["Id"] == "dau"].iloc[0]["File"] == f"{located.file}:{located.line}"


def test_creating_a_kpi_through_the_form_writes_the_yaml(page, studio_project) -> None:
    create(page, "kpi", "payer_share")
    page.text_input(key="kpi_editor.label").input("Payer share").run()
    page.text_area(key="kpi_editor.select").input(
        "SAFE_DIVIDE(SUM({property.payers_on_day}), SUM({property.dau_active})) * 100").run()
    page.selectbox(key="kpi_editor.axis_totals.date").select("avg").run()
    page.text_input(key="kpi_editor.unit_symbol").input("%").run()
    assert not page.error, [e.value for e in page.error]
    assert page.get("vega_lite_chart"), "the preview of the new KPI"
    assert any(i.value.startswith("New KPI") for i in page.info)
    page.button(key="kpi_editor_save").click().run()
    assert not page.exception

    located = studio_project.files().kpis["payer_share"]
    assert located.model == Kpi.model_validate({
        "label": "Payer share",
        "select": "SAFE_DIVIDE(SUM({property.payers_on_day}), SUM({property.dau_active})) * 100",
        "x_axis": {"date": {"total_function": "avg"}}, "unit": {"symbol": "%", "is_prefix": False}})
    assert located.file == "userentity/kpis/revenue.yml"  # where the other payer KPIs are
    assert "Saved **payer_share**" in page.toast[0].value
    page.button(key="kpi_editor_back").click().run()
    assert "payer_share" in set(page.dataframe(key="kpi_list.table").value["Id"])


def test_formula_helper_builds_a_formula(page) -> None:
    create(page, "kpi", "revenue_per_payer")
    page.selectbox(key="kpi_helper.aggregation").select("SUM").run()
    page.button_group(key="kpi_editor._snippets.select").set_value("SAFE_DIVIDE(").run()
    page.selectbox(key="kpi_editor._insert.property").select("revenue_on_day").run()
    page.button_group(key="kpi_editor._snippets.select").set_value(", (next argument)").run()
    page.selectbox(key="kpi_editor._insert.property").select("payers_on_day").run()
    page.button_group(key="kpi_editor._snippets.select").set_value(")").run()
    assert page.text_area(key="kpi_editor.select").value == \
        "SAFE_DIVIDE(SUM({property.revenue_on_day}), SUM({property.payers_on_day}))"
    page.selectbox(key="kpi_editor._insert.kpi").select("dau").run()
    assert page.text_area(key="kpi_editor.select").value.endswith(")) {kpi.dau}")
    # SUM and AVG offer numbers only.
    assert "platform" not in page.selectbox(key="kpi_editor._insert.property").options


def test_a_property_outside_an_aggregation_is_reported_at_the_select(page, studio_project) -> None:
    path = studio_project.root / "userentity/kpis/activity.yml"
    before = path.read_text()
    open_object(page, "kpi", "dau")
    page.text_area(key="kpi_editor.select").input("{property.dau_active} + 1").run()
    near = errors_in(block_of(page, "kpi_editor.select"))
    assert any("{property.dau_active} must be inside an aggregation" in text for text in near)
    assert page.button(key="kpi_editor_save").disabled
    assert not page.get("vega_lite_chart")
    assert path.read_text() == before


def test_kpis_without_an_axis_or_with_unknown_references_are_refused(page) -> None:
    open_object(page, "kpi", "dau")
    page.checkbox(key="kpi_editor.axes.date").uncheck().run()
    assert any("at least one x axis" in text for text in errors_in(page._tree))
    page.checkbox(key="kpi_editor.axes.date").check().run()
    page.text_input(key="kpi_editor.where").input("{property.plattform} = 'ios'").run()
    near = errors_in(block_of(page, "kpi_editor.where"))
    assert any("plattform" in text for text in near)


def test_editing_a_kpi_changes_only_its_lines_and_previews_the_impact(page, studio_project) -> None:
    path = studio_project.root / "userentity/kpis/activity.yml"
    before = path.read_text()
    open_object(page, "kpi", "dau")
    assert page.get("vega_lite_chart")
    page.text_area(key="kpi_editor.select").input("SUM({property.wau_active})").run()
    impact = [w.value for w in page.warning if "change" in w.value]
    assert impact and re.match(r"^\d+ of \d+ day\(s\) change", impact[0])
    page.button(key="kpi_editor_save").click().run()
    assert not page.exception
    after = path.read_text()
    start, end = object_lines(before, "dau")
    new_start, new_end = object_lines(after, "dau")
    assert before.splitlines()[:start] == after.splitlines()[:new_start]
    assert before.splitlines()[end:] == after.splitlines()[new_end:]
    assert studio_project.files().kpis["dau"].model.select == "SUM({property.wau_active})"


def test_templated_kpi_preview_per_template_value(page) -> None:
    open_object(page, "kpi", "retention_d{}")
    assert page.segmented_control(key="kpi_editor.template").value == "cohort_day"
    assert page.get("vega_lite_chart")
    page.selectbox(key="kpi_preview.template").select("7").run()
    assert not page.exception
    assert any("retention_d7" in c.value for c in page.caption)


def test_delete_asks_for_confirmation(page, studio_project) -> None:
    open_object(page, "kpi", "stickiness")
    page.button(key="kpi_editor_delete").click().run()
    assert "stickiness" in studio_project.files().kpis
    page.button(key="kpi_editor_confirm_delete").click().run()
    assert not page.exception
    assert "stickiness" not in studio_project.files().kpis
    assert "dau" in studio_project.files().kpis
