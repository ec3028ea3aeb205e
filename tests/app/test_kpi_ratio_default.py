"""A new ratio KPI made in the KPIs form averages over weeks and months by default."""

from __future__ import annotations

import datetime as dt

from asemic_core.config.models import Kpi
from asemic_core.query.kpi import KpiRequest


def test_a_new_ratio_kpi_saves_avg_totals(app, studio_project) -> None:
    app.switch_page("pages/kpis.py").run()
    app.text_input(key="kpi_new.id").input("arpdau_form_test")
    next(b for b in app.get("form_submit_button") if b.form_id == "kpi_new").click().run()
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
