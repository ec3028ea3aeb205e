"""What the warehouse knows about a draft: compile errors, the type its definition
produces, and the rows an event-table draft reads."""

from __future__ import annotations

import duckdb
import polars as pl

from asemic_core.config.model_data import to_yaml_data
from asemic_core.config.models import Kpi, Property
from asemic_core.query.draft_check import draft_dry_run, produced_data_type
from asemic_core.query.draft_preview import Draft
from asemic_core.query.event_preview import event_draft_sample


def _inline(aggregate: str, select: str, data_type: str = "INTEGER") -> Property:
    return Property.model_validate({"data_type": data_type, "lifetime_property": {
        "merge_function": "sum", "source_event_property": {
            "source_event": "ad_view", "select": select, "aggregate_function": aggregate}}})


def test_a_kpi_summing_a_string_does_not_compile(demo) -> None:
    files = demo.files()
    draft = Draft("kpi", "country_sum", Kpi.model_validate({"select": "SUM({property.country})",
                                                             "x_axis": {"date": {}}}))
    issues = draft_dry_run(files, demo.warehouse_path(files), draft, [])
    assert [(i.object_id, i.field) for i in issues] == [("country_sum", "select")]
    assert "SUM does not take STRING values" in issues[0].message and "sum(VARCHAR)" in issues[0].message


def test_a_decimal_sum_declared_integer_is_a_data_type_error(demo) -> None:
    files = demo.files()
    draft = Draft("property", "ad_rev", _inline("sum", "{revenue_usd}"))
    issues = draft_dry_run(files, demo.warehouse_path(files), draft, [])
    assert [(i.object_id, i.field, i.rule) for i in issues] == [("ad_rev", "data_type", "data-type")]
    assert "data_type is INTEGER" in issues[0].message and "NUMBER" in issues[0].message
    fine = Draft("property", "ad_rev", _inline("sum", "{revenue_usd}", "NUMBER"))
    assert draft_dry_run(files, demo.warehouse_path(files), fine, []) == []


def test_the_produced_type_follows_the_expression_and_the_aggregate(demo) -> None:
    files = demo.files()
    path = demo.warehouse_path(files)

    def produced(model: dict) -> str | None:
        found = produced_data_type(files, path, Draft("property", "x", Property.model_validate(model)))
        return found.value if found else None

    assert produced(_inline("sum", "{revenue_usd}").model_dump(exclude_unset=True, by_alias=True)) == "NUMBER"
    assert produced(_inline("count", "1").model_dump(exclude_unset=True, by_alias=True)) == "INTEGER"
    assert produced({"data_type": "INTEGER", "event_property": {"source_event": "ad_view", "select": "{ad_network}",
                                                                "aggregate_function": "last_value"}}) == "STRING"
    assert produced({"data_type": "INTEGER", "sliding_window_property": {
        "window_function": "avg", "relative_days_from": -6, "relative_days_to": 0,
        "source_property": "dau_active"}}) == "NUMBER"
    assert produced({"data_type": "INTEGER", "computed_property": {"select": "{country} || '!'"}}) == "STRING"


def test_an_event_draft_sample_applies_its_where(demo) -> None:
    files = demo.files()
    data = to_yaml_data(files.events["ad_view"].model)
    data["where"] = "{revenue_usd} > 0.02"
    con = duckdb.connect(str(demo.warehouse_path(files)), read_only=True)
    try:
        total, matching = con.execute("SELECT count(*), count(*) FILTER (WHERE revenue_usd > 0.02) "
                                      "FROM game.ad_views").fetchall()[0]
    finally:
        con.close()
    sample = event_draft_sample(demo.root, demo.warehouse_path(files), "ad_view", data, limit=5)
    assert (sample.matching, sample.total, sample.problem) == (matching, total, None)
    assert sample.rows.height == 5 and sample.rows.columns == list(data["columns"])
    assert sample.rows.filter(pl.col("revenue_usd") <= 0.02).height == 0
    data["where"] = "{nope} > 1"
    broken = event_draft_sample(demo.root, demo.warehouse_path(files), "ad_view", data)
    assert broken.rows is None and "nope" in broken.problem
