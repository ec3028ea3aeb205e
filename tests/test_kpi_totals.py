"""Ratio-like KPI formulas are recognised, so their suggested total is avg."""

from __future__ import annotations

import pytest

from asemic_core.semantic.kpi_totals import is_ratio_like, ratio_kpi_ids, suggested_total_function


@pytest.mark.parametrize("select", [
    "SUM({property.revenue}) / SUM({property.dau_active})",
    "SAFE_DIVIDE(SUM({property.dau_active}), SUM({property.cohort_size})) * 100",
    "100 * (SUM({property.a}) / COUNT({property.b}))",
    "SAFE_DIVIDE({kpi.dau}, {kpi.mau}) * 100",
    "AVG({property.session_length})",
    "SUM({property.revenue}) / COUNTD({property.entity_id})",
])
def test_ratios_and_averages(select):
    assert is_ratio_like(select)
    assert suggested_total_function(select) == "avg"


@pytest.mark.parametrize("select", [
    "SUM({property.dau_active})",
    "COUNT({property.purchases})",
    "SUM({property.revenue} / 100)",          # a sum of scaled values still adds up
    "SUM({property.revenue}) / 100",          # a constant divisor: cents to dollars
    "SUM({property.a}) - SUM({property.b})",
    "MAX({property.level})",
    "not a formula (",
    "",
])
def test_sums_and_counts(select):
    assert not is_ratio_like(select)
    assert suggested_total_function(select) is None


def test_references_to_ratio_kpis():
    class Kpi:
        def __init__(self, select):
            self.select_text = select

    kpis = {"arpdau": Kpi("SUM({property.revenue}) / SUM({property.dau_active})"),
            "arpdau_pct": Kpi("{kpi.arpdau} * 100"), "dau": Kpi("SUM({property.dau_active})"),
            "dau_copy": Kpi("{kpi.dau}")}
    assert ratio_kpi_ids(kpis) == {"arpdau", "arpdau_pct"}


def test_a_new_ratio_kpi_from_the_form_saves_avg_totals_and_an_existing_one_keeps_its_file():
    from asemic_core.editing.kpi_form import kpi_data, new_kpi_form

    form = new_kpi_form()
    form.update(id="arpdau", select="SUM({property.revenue}) / SUM({property.dau_active})")
    assert kpi_data(form)["total_function"] == "avg"
    form["axis_totals"]["date"] = "sum"  # the user's explicit choice wins
    assert "total_function" not in kpi_data(form) and kpi_data(form)["x_axis"] == {"date": {"total_function": "sum"}}
    form["axis_totals"]["date"] = ""
    form["select"] = "SUM({property.revenue})"
    assert "total_function" not in kpi_data(form)
    form.update(original_id="arpdau", select="SUM({property.revenue}) / SUM({property.dau_active})")
    assert "total_function" not in kpi_data(form)  # editing a saved KPI never adds lines by itself
