"""Ad hoc columns (no job needed) and previews of drafts on a sample of users."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from asemic_core.config import writer
from asemic_core.config.models import Kpi, Property
from asemic_core.query.kpi import KpiRequest
from asemic_core.query.draft_preview import Draft

PAYING_DAYS = Property.model_validate({
    "data_type": "INTEGER",
    "lifetime_property": {"merge_function": "sum", "source_property": "payers_on_day"},
})


def test_a_property_saved_after_the_last_job_is_computed_on_the_fly(demo) -> None:
    writer.save_property(demo.root, "paying_days", PAYING_DAYS, file="userentity/properties/revenue.yml")
    assert "paying_days" in demo.status().stale
    adhoc = demo.property_values("paying_days")
    # An independent way to the same numbers: the running count of the days with payers_on_day = 1.
    payers = demo.property_values("payers_on_day").sort("entity_id", "date")
    expected = payers.with_columns(pl.col("value").cum_sum().over("entity_id").alias("value"))
    assert_frame_equal(adhoc, expected, check_dtypes=False)
    demo.refresh(origin="test")
    assert "paying_days" not in demo.status().stale
    assert_frame_equal(demo.property_values("paying_days"), adhoc)


def test_a_kpi_over_a_new_property_needs_no_job(demo) -> None:
    writer.save_property(demo.root, "paying_days", PAYING_DAYS, file="userentity/properties/revenue.yml")
    writer.save_kpi(demo.root, "avg_paying_days", Kpi.model_validate(
        {"select": "AVG({property.paying_days})", "x_axis": {"date": {}}}), file="userentity/kpis/revenue.yml")
    result = demo.kpi_query(KpiRequest("avg_paying_days", dt.date(2026, 1, 20), dt.date(2026, 1, 25)))
    assert result.adhoc_columns == ["paying_days"]
    values = demo.property_values("paying_days", dt.date(2026, 1, 20), dt.date(2026, 1, 25))
    expected = values.group_by("date").agg(pl.col("value").mean()).sort("date")
    assert result.points["value"].to_list() == pytest.approx(expected["value"].to_list())


def test_property_preview_shows_draft_and_saved_values_on_a_stable_sample(demo) -> None:
    draft = Draft("property", "revenue_on_day", Property.model_validate({
        "data_type": "NUMBER",
        "event_property": {"source_event": "purchase", "select": "{amount_usd} * 0.5", "aggregate_function": "sum",
                           "default_value": 0},
    }))
    first = demo.preview(draft, sample_users=100, days=10)
    second = demo.preview(draft, sample_users=100, days=10)
    assert first.ok and not first.is_new
    assert 0 < first.sample_users <= first.total_users == 300
    assert first.day_to - first.day_from == dt.timedelta(days=9)
    assert_frame_equal(first.values, second.values)
    assert first.values["entity_id"].n_unique() == first.sample_users
    values = first.values
    assert values["value"].to_list() == pytest.approx((values["saved_value"] * 0.5).to_list())
    assert first.changed == values.filter(pl.col("saved_value") != 0).height
    # The preview reads the events, so it agrees with the materialized saved values.
    saved = demo.property_values("revenue_on_day", first.day_from, first.day_to).filter(
        pl.col("entity_id").is_in(values["entity_id"].unique().to_list()))
    assert saved["value"].to_list() == pytest.approx(values.sort("entity_id", "date")["saved_value"].to_list())


def test_kpi_preview_compares_with_the_saved_definition(demo) -> None:
    draft = Draft("kpi", "dau", Kpi.model_validate({"select": "SUM({property.dau_active}) * 2",
                                                    "x_axis": {"date": {"total_function": "avg"}}}))
    result = demo.preview(draft, sample_users=150, days=7)
    assert result.ok
    assert result.points.height == 7
    assert result.points["value"].to_list() == pytest.approx((result.points["saved_value"] * 2).to_list())


def test_a_draft_with_an_error_reports_it_at_its_field_and_computes_nothing(demo) -> None:
    draft = Draft("property", "broken", Property.model_validate({
        "data_type": "NUMBER", "lifetime_property": {"merge_function": "sum", "source_property": "no_such_property"}}))
    result = demo.preview(draft)
    assert not result.ok and result.values is None
    [issue] = [i for i in result.issues if i.is_error]
    assert issue.object_id == "broken" and issue.field == "lifetime_property.source_property"
    assert issue.file == "userentity/properties/broken.yml" and issue.line == 5
    assert not (demo.root / "userentity/properties/broken.yml").exists()
