"""The dry run is honest: declared data types against the types the expressions produce,
no check skipped silently, a property that fails to load reported once, and a summary
that says "passed" only when every check ran clean."""

from __future__ import annotations

import re

import pytest

from asemic_core.sql import sources
from asemic_core.validation import dry_run

P = "userentity/properties"
K = "userentity/kpis"
REVENUE = f"{P}/revenue.yml"


def test_a_clean_project_passes(project_dw):
    report = project_dw.validate(dry_run=True)
    assert (len(report.errors), len(report.warnings), report.dry_run) == (0, 1, "passed")
    assert report.summary() == "OK: 0 errors, 1 warning; dry run: passed"
    assert report.not_checked == []


def test_sum_of_a_double_column_declared_integer(project_dw):
    project_dw.replace(REVENUE, "  revenue_on_day:\n    data_type: NUMBER", "  revenue_on_day:\n    data_type: INTEGER")
    assert project_dw.errors(dry_run=False) == []  # only the warehouse knows amount_usd is a DOUBLE
    project_dw.expect_one(
        file=REVENUE, line=project_dw.line(REVENUE, "data_type: INTEGER", after="revenue_on_day:"),
        object_id="revenue_on_day", field="data_type", dry_run=True,
        message="data_type is INTEGER, but the event property produces NUMBER (DOUBLE): declare data_type: NUMBER, "
                "or convert the value (e.g. with CAST)")
    report = project_dw.validate(dry_run=True)
    assert report.dry_run.startswith("failed (1 error in ")
    assert report.summary().startswith("FAILED: 1 error, 1 warning; dry run: failed (1 error in ")


def test_whole_numbers_may_be_declared_number(project_dw):
    """count_distinct gives a BIGINT, a constant 1 an INTEGER: both fit NUMBER."""
    project_dw.replace(REVENUE, "  products_bought_on_day:\n    data_type: INTEGER",
                       "  products_bought_on_day:\n    data_type: NUMBER")
    project_dw.replace(REVENUE, "  payers_on_day:\n    data_type: INTEGER", "  payers_on_day:\n    data_type: NUMBER")
    project_dw.replace(REVENUE, "  payers_lifetime:\n    data_type: INTEGER", "  payers_lifetime:\n    data_type: NUMBER")
    report = project_dw.validate(dry_run=True)
    assert report.errors == [] and report.dry_run == "passed"


def test_computed_property_of_another_type(project_dw):
    project_dw.replace(REVENUE, "  is_payer:\n    data_type: BOOLEAN", "  is_payer:\n    data_type: INTEGER")
    project_dw.expect_one(
        file=REVENUE, line=project_dw.line(REVENUE, "data_type: INTEGER", after="is_payer:"), object_id="is_payer",
        field="data_type", dry_run=True,
        message="data_type is INTEGER, but the computed property produces BOOLEAN (BOOLEAN)")


def test_inline_source_is_blamed_on_its_parents_data_type(project_dw):
    project_dw.replace(REVENUE, "  smallest_purchase_lifetime:\n    data_type: NUMBER",
                       "  smallest_purchase_lifetime:\n    data_type: INTEGER")
    project_dw.expect_one(
        file=REVENUE, line=project_dw.line(REVENUE, "data_type: INTEGER", after="smallest_purchase_lifetime:"),
        object_id="smallest_purchase_lifetime", field="data_type", dry_run=True,
        message="data_type is INTEGER, but the lifetime source produces NUMBER (DOUBLE)")


@pytest.mark.parametrize(("prop", "message"), [
    ("revenue_lifetime", "data_type is INTEGER, but sum of revenue_on_day (NUMBER) gives NUMBER: declare data_type: NUMBER"),
    ("avg_daily_revenue_last_7_days",
     "data_type is INTEGER, but avg of revenue_on_day (NUMBER) gives NUMBER: declare data_type: NUMBER"),
])
def test_window_and_lifetime_types_are_checked_statically(project_dw, prop, message):
    project_dw.replace(REVENUE, f"  {prop}:\n    data_type: NUMBER", f"  {prop}:\n    data_type: INTEGER")
    line = project_dw.line(REVENUE, "data_type: INTEGER", after=f"  {prop}:")
    for with_warehouse in (False, True):
        project_dw.expect_one(file=REVENUE, line=line, object_id=prop, field="data_type", message=message,
                              dry_run=with_warehouse)


def test_a_property_that_fails_to_load_is_reported_once(project_dw):
    project_dw.replace(REVENUE, "  revenue_on_day:\n    data_type: NUMBER", "  revenue_on_day:\n    data_type: NUMBR")
    line = project_dw.line(REVENUE, "data_type: NUMBR")
    message = "Input should be 'NUMBER', 'INTEGER', 'STRING', 'DATE', 'DATETIME' or 'BOOLEAN' (got 'NUMBR')"
    for with_warehouse in (False, True):  # no "unknown property" in its 4 windows, 1 computed, 2 KPIs
        project_dw.expect_one(file=REVENUE, line=line, object_id="revenue_on_day", field="data_type",
                              message=message, dry_run=with_warehouse)
    report = project_dw.validate(dry_run=True)
    # What reads revenue_on_day (directly or through another object) is not compiled:
    blocked = ["property:peak_daily_revenue__inner", "property:payment_segment", "kpi:revenue", "kpi:total_revenue",
               "kpi:arpdau", "kpi:arppu", "kpi:ltv", "kpi:ltv_d1", "kpi:ltv_d7", "kpi:ltv_d28", "kpi:max_daily_spend"]
    assert sorted(report.not_checked) == sorted(blocked)
    assert report.dry_run.startswith("not passed: ")
    assert report.dry_run.endswith(" checks ran clean; 11 not run because of the errors above")


def test_static_errors_keep_the_dry_run_from_passing(project_dw):
    """Nothing depends on the broken KPI: every check runs clean, and still not "passed"."""
    project_dw.replace(f"{K}/levels.yml", "select: AVG({property.max_level_reached})",
                       "select: AVG({property.max_level_reached}); DROP TABLE x")
    report = project_dw.validate(dry_run=True)
    assert [e.object_id for e in report.errors] == ["avg_max_level"]
    assert report.not_checked == []  # a KPI whose select is refused is not resolved, so not compiled
    assert re.fullmatch(r"not passed: \d+ checks ran clean", report.dry_run), report.dry_run


def test_a_check_that_cannot_run_is_an_issue(project_dw, monkeypatch):
    """A failure no reported error explains is reported, never skipped."""
    original = sources.event_properties_query

    def failing(project, event_id, props, *args, **kwargs):
        if props[0].id == "biggest_purchase_on_day":
            raise KeyError("amount_usd")
        return original(project, event_id, props, *args, **kwargs)

    monkeypatch.setattr(dry_run, "event_properties_query", failing)
    issue = project_dw.expect_one(
        file=REVENUE, line=project_dw.line(REVENUE, "select: '{amount_usd}', aggregate_function: max"),
        object_id="biggest_purchase_on_day", field="event_property.select", dry_run=True,
        message="cannot be compiled: 'amount_usd' cannot be resolved")
    assert issue.rule == "dry-run"
    assert project_dw.validate(dry_run=True).dry_run.startswith("failed (1 error in ")
