"""Schema: generated tables and DDL, what the next job changes, coverage per column."""

from __future__ import annotations

import json
import os

SCHEMA = "pages/schema.py"

NEW_PROPERTY = """\
properties:
  ad_views_on_day:
    data_type: INTEGER
    event_property:
      source_event: ad_view
      select: '1'
      aggregate_function: count
      default_value: 0
"""


def test_tables_columns_and_ddl(app, studio_project):
    app.switch_page(SCHEMA).run()
    assert not app.exception
    schema = studio_project.schema()
    subheaders = [h.value for h in app.subheader]
    assert subheaders == [f"{schema.schema}.{t.name}" for t in schema.tables]
    daily = app.dataframe[0].value
    expected = [c.name for c in schema.table("daily").columns if not c.hidden]
    assert list(daily["column"]) == expected
    row = daily[daily["column"] == "revenue_on_day"].iloc[0]
    assert (row["data type"], row["SQL type"], row["kind"]) == ("NUMBER", "DOUBLE", "event property")
    assert any("partitioned by `date`" in m.value and "sorted by `entity_id`" in m.value for m in app.markdown)
    ddl = [c.value for c in app.code if c.language == "sql"]
    assert any(d == schema.table("daily").ddl for d in ddl)
    assert any('CREATE TABLE "asemic_model"."users"' in d or "CREATE TABLE" in d and "users" in d for d in ddl)


def test_hidden_columns_on_request(app, studio_project):
    app.switch_page(SCHEMA).run()
    hidden = [c.name for c in studio_project.schema().table("daily").columns if c.hidden]
    assert hidden and not set(hidden) & set(app.dataframe[0].value["column"])
    app.toggle(key="schema_show_hidden").set_value(True).run()
    assert set(hidden) <= set(app.dataframe[0].value["column"])


def test_coverage_chart_has_one_bar_per_column(app, studio_project):
    app.switch_page(SCHEMA).run()
    charts = app.get("vega_lite_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    status = studio_project.status()
    assert {c.state for c in status.columns} == {"fresh"}
    text = charts[0].proto.spec
    for column in status.columns:
        assert f'"{column.name}"' in text
    assert spec["layer"][0]["mark"]["type"] == "bar"


def test_next_job_lists_added_and_stale_columns_and_the_plan(app, studio_project):
    (studio_project.root / "userentity/properties/ads.yml").write_text(NEW_PROPERTY)
    revenue = studio_project.root / "userentity/properties/revenue.yml"
    text = revenue.read_text()
    assert text.index("select: '{amount_usd}'") < text.index("purchases_on_day:")  # revenue_on_day's select
    revenue.write_text(text.replace("select: '{amount_usd}'", "select: '{amount_usd} * 1.0'", 1))
    app.switch_page(SCHEMA).run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Added columns"] == "1"
    assert int(metrics["Stale columns"]) >= 1
    assert metrics["Removed columns"] == "0"
    listed = " ".join(m.value for m in app.markdown)
    assert "**Added:** `ad_views_on_day`" in listed
    assert "`revenue_on_day`" in listed
    plan = [c.value for c in app.code if c.language == "text"]
    assert len(plan) == 1 and plan[0].startswith("update:") and "ad_views_on_day" in plan[0]
    # never-materialized columns are labelled in the coverage chart
    assert "not materialized yet" in str(app.get("vega_lite_chart")[0].proto)


def _directory_bytes(path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _dirs, files in os.walk(path) for f in files)


def test_storage_lists_the_delta_tables_with_their_bytes_on_disk(app, studio_project):
    studio_project.update(origin="test")  # model version 2: the daily table gets a second Delta version
    app.switch_page(SCHEMA).run()
    assert not app.exception
    physical = next(d.value for d in app.dataframe if "Delta version" in d.value.columns)
    tables_dir = studio_project.model_dir() / "tables"
    assert sorted(physical["table"]) == ["daily", "user_state", "users"]
    by_name = {row["table"]: row for row in physical.to_dict("records")}
    current = studio_project.history()[0]
    assert current.version == 2
    for name in ("daily", "users"):
        row = by_name[name]
        on_disk = _directory_bytes(tables_dir / name)
        assert on_disk > 0 and row["size (bytes)"] == on_disk
        assert row["Delta version"] == current.tables[name]
        assert row["model version"] == 2
        parquet = [p for p in (tables_dir / name).rglob("*.parquet")]
        assert 0 < row["files"] <= len(parquet)
    # the refresh wrote versions 0 and 1 (the activity part is a second commit), the update
    # version 2 (a write of a few days puts both parts in one commit)
    assert by_name["daily"]["Delta version"] == 2
    assert by_name["daily"]["partitioned by"] == "date, __active"  # by day, then activity and registration days apart
    assert by_name["users"]["partitioned by"] == "not partitioned"


def test_storage_lists_a_column_table_with_the_columns_it_holds(app, studio_project):
    from asemic_core.config.writer import save_property

    event = studio_project.resolved().properties["purchases_on_day"].source_event
    save_property(studio_project.root, "purchases_on_day", {"data_type": "INTEGER", "event_property": {
        "source_event": event, "select": "2", "aggregate_function": "sum", "default_value": 0}})
    studio_project.update(properties=["purchases_on_day"], origin="test")
    app.switch_page(SCHEMA).run()
    assert not app.exception
    physical = next(d.value for d in app.dataframe if "Delta version" in d.value.columns)
    by_name = {row["table"]: row for row in physical.to_dict("records")}
    assert sorted(by_name) == ["daily", "daily_columns_1", "user_state", "users"]
    column_table = by_name["daily_columns_1"]
    assert column_table["holds"] == "purchases_on_day" and by_name["daily"]["holds"] == ""
    assert column_table["partitioned by"] == "date"
    activity_rows = sum(f.rows for f in studio_project.model_store(readonly=True).snapshot("daily").files if f.active)
    assert column_table["rows"] == activity_rows
