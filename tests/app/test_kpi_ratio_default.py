"""A new ratio KPI made in the KPIs form averages over weeks and months by default, and the
form says so, and why, next to the field."""

from __future__ import annotations

import datetime as dt

from studio_tree import block_of, create

from asemic_core.config.models import Kpi
from asemic_core.query.kpi import KpiRequest


RATIO = "SAFE_DIVIDE(SUM({property.revenue_on_day}), SUM({property.dau_active}))"


def _default_total_note(app) -> list[str]:
    """The captions under the "Default total function" field."""
    return [c.value for c in block_of(app, "kpi_editor.total_function").children.values()
            if getattr(c, "type", None) == "caption"]


def test_the_form_explains_the_avg_default_of_a_ratio(kpis_page) -> None:
    app = create(kpis_page, "kpi", "ratio_note_test")
    app.text_area(key="kpi_editor.select").input("SUM({property.revenue_on_day})").run()
    assert app.selectbox(key="kpi_editor.total_function").value == ""
    note = _default_total_note(app)
    assert len(note) == 1 and note[0].startswith(":material/functions: **sum** by default")

    app.text_area(key="kpi_editor.select").input(RATIO).run()
    note = _default_total_note(app)
    assert len(note) == 1 and note[0].startswith(":material/functions: **avg** by default")
    assert "the select divides two measures" in note[0] and "average of its daily ratios" in note[0]

    app.selectbox(key="kpi_editor.total_function").select("sum").run()  # a choice of the analyst's wins
    assert not _default_total_note(app)


def test_a_new_ratio_kpi_saves_avg_totals(kpis_page, studio_project) -> None:
    app = create(kpis_page, "kpi", "arpdau_form_test")
    app.text_area(key="kpi_editor.select").input(
        "SAFE_DIVIDE(SUM({property.revenue_on_day}), SUM({property.dau_active}))").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    app.button(key="kpi_editor_save").click().run()
    assert not app.exception

    located = studio_project.files().kpis["arpdau_form_test"]
    assert located.model == Kpi.model_validate({
        "select": "SAFE_DIVIDE(SUM({property.revenue_on_day}), SUM({property.dau_active}))",
        "x_axis": {"date": {}}, "total_function": "avg"})
    # A week is the average of its daily ratios, not their sum.
    last = dt.date.fromisoformat(studio_project.status().watermark)
    source = studio_project.source()
    try:
        days = studio_project.kpi_query(KpiRequest("arpdau_form_test", last - dt.timedelta(days=27), last), source)
        weeks = studio_project.kpi_query(KpiRequest("arpdau_form_test", last - dt.timedelta(days=27), last,
                                                    grain="week"), source)
    finally:
        source.close()
    first_week = weeks.points.row(1, named=True)
    start = first_week["date"]
    daily = days.points.filter((days.points["date"] >= start) & (days.points["date"] <= start + dt.timedelta(days=6)))
    assert abs(first_week["value"] - daily["value"].mean()) < 1e-9
