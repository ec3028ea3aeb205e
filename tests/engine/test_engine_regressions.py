"""Regression tests: minimal reproductions of engine bugs found by the property-based tests.

Each test is the smallest project that showed one bug: one event table (registration and
activity), a user or two, a property or KPI, with the expected values computed by hand
from SEMANTICS.md and docs/semantics.md. They failed on 1e2570f and were fixed in 582dca2,
2c5ce63 and 4d1745f (the comments say what the engine used to return); the random
generators of ``random_project.py`` cover the same cases (NULLs at the first/last event,
timestamp ties, inline sources of count windows, ranges and groups without contributing
rows) and no longer avoid any trigger.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from asemic_core.project import Project
from asemic_core.query.kpi import KpiRequest

D1, D2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def tiny_project(root: Path, rows: list[tuple], properties: dict[str, Any], kpis: dict[str, Any] | None = None) -> Project:
    """One table ``events`` (user_id, event_ts, platform, v) tagged registration and activity."""
    entity = root / "userentity"
    (entity / "events").mkdir(parents=True)
    (entity / "properties").mkdir()
    (root / "asemic.yml").write_text("warehouse: {type: duckdb, path: warehouse.duckdb}\n")
    (entity / "config.yml").write_text("data_model_schema: m\ncohorted_daily_kpis_days: [0, 1]\nactive_days: 3\n")
    (entity / "events" / "events.yml").write_text(yaml.safe_dump({
        "table_name": "raw.events", "tags": ["registration_event", "activity_event"],
        "columns": {"user_id": {"data_type": "STRING", "tags": ["entity_id_column"]},
                    "event_ts": {"data_type": "DATETIME", "tags": ["event_timestamp_column"]},
                    "platform": {"data_type": "STRING", "tags": ["registration_property"]},
                    "v": {"data_type": "NUMBER"}}}))
    (entity / "properties" / "p.yml").write_text(yaml.safe_dump({"properties": properties}))
    if kpis:
        (entity / "kpis").mkdir()
        (entity / "kpis" / "k.yml").write_text(yaml.safe_dump({"kpis": kpis}))
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.events (user_id VARCHAR, event_ts TIMESTAMP, platform VARCHAR, v DOUBLE)")
        con.executemany("INSERT INTO raw.events VALUES (?, ?, ?, ?)", [list(r) for r in rows])
    return Project(root)


def values(project: Project, prop: str) -> list[Any]:
    return project.property_values(prop)["value"].to_list()


def event_prop(function: str, **extra: Any) -> dict[str, Any]:
    return {"data_type": "NUMBER",
            "event_property": {"source_event": "events", "select": "{v}", "aggregate_function": function, **extra}}


def test_first_and_last_value_keep_a_null_at_the_earliest_or_latest_event(tmp_path: Path) -> None:
    """docs/semantics.md: "the value at the earliest/latest timestamp of the day; a NULL value
    there is the result (no skipping)". The engine used DuckDB's arg_min/arg_max, which skip
    rows whose value is NULL (arg_min_null/arg_max_null do not)."""
    project = tiny_project(tmp_path, [
        ("u1", at(D1, 9), "ios", None), ("u1", at(D1, 10), "ios", 5.0),  # day 1: NULL first, 5 last
        ("u1", at(D2, 9), "ios", 7.0), ("u1", at(D2, 10), "ios", None),  # day 2: 7 first, NULL last
    ], {"first_v": event_prop("first_value"), "last_v": event_prop("last_value")})
    project.refresh(origin="test")
    assert values(project, "first_v") == [None, 7.0]  # was: [5.0, 7.0]
    assert values(project, "last_v") == [5.0, None]  # was: [5.0, 7.0]


def test_last_value_breaks_timestamp_ties_by_table_row_order(tmp_path: Path) -> None:
    """docs/semantics.md: "Ties on the timestamp are broken by the table's row order" (as the
    engine already does for entity_registrations). Three events at the same instant, in
    table order v = 1, 2, 3: first_value is 1, last_value is 3."""
    project = tiny_project(tmp_path, [("u1", at(D1, 9), "ios", 1.0), ("u1", at(D1, 9), "ios", 2.0),
                                      ("u1", at(D1, 9), "ios", 3.0)],
                           {"first_v": event_prop("first_value"), "last_v": event_prop("last_value")})
    project.refresh(origin="test")
    assert (values(project, "first_v"), values(project, "last_v")) == ([1.0], [3.0])  # was: ([1.0], [1.0])


def _counted_window(inner: dict[str, Any]) -> dict[str, Any]:
    return {"data_type": "INTEGER", "sliding_window_property": {
        "window_function": "count", "relative_days_from": -6, "relative_days_to": 0,
        "source_event_property": {"source_event": "events", "select": "{v}", **inner}}}


ROWS = [("u1", at(D1, 9), "ios", 1.0), ("u1", at(D2, 9), "ios", 2.0), ("u1", at(D2, 10), "ios", 4.0)]


def test_inline_source_takes_the_data_type_written_inside(tmp_path: Path) -> None:
    """docs/semantics.md (inline sources): "`<id>__inner` takes the data_type written inside
    the inline definition when there is one". resolve_properties._inner_type ignored it and
    typed the inner column of a count window as STRING, so validation rejected this valid
    config ("aggregate_function count gives a number, but data_type is STRING")."""
    project = tiny_project(tmp_path, ROWS, {"valued_days_7": _counted_window(
        {"aggregate_function": "count", "data_type": "INTEGER"})})
    report = project.validate(dry_run=False)
    assert [issue.message for issue in report.errors] == []
    project.refresh(origin="test")
    assert values(project, "valued_days_7__inner") == [1, 2]
    assert values(project, "valued_days_7") == [1, 2]


def test_count_window_over_an_inline_numeric_source_without_data_type_is_valid(tmp_path: Path) -> None:
    """SEMANTICS 5.4: a count window over any source is valid; an inline source needs no
    data_type. The engine typed the inner column as STRING ("counted as text") and then its
    own validation rejected the numeric aggregate: "sum gives a number, but data_type is
    STRING" (a numeric default_value or value_mappings new_value: "not a STRING")."""
    project = tiny_project(tmp_path, ROWS, {"paid_days_7": _counted_window(
        {"aggregate_function": "sum", "default_value": 0})})
    report = project.validate(dry_run=False)
    assert [issue.message for issue in report.errors] == []
    project.refresh(origin="test")
    assert values(project, "paid_days_7") == [1, 2]


def test_count_window_over_an_inline_expression_source_with_a_numeric_default_is_valid(tmp_path: Path) -> None:
    """Still failing after 2c5ce63, fixed in 4d1745f: the inner type of a count window's
    inline event source was inferred only for count/count_distinct/sum/avg/none and for a
    select that is one column; an expression under min/max/first_value/last_value stayed
    STRING, and a numeric default_value was rejected: "default_value 0 (int) is not a
    STRING". max({v} * 2) is 2 on day 1 and 8 on day 2: the window counts 1, then 2 values."""
    project = tiny_project(tmp_path, ROWS, {"valued_days_7": _counted_window(
        {"select": "{v} * 2", "aggregate_function": "max", "default_value": 0})})
    report = project.validate(dry_run=False)
    assert [issue.message for issue in report.errors] == []
    project.refresh(origin="test")
    assert values(project, "valued_days_7") == [1, 2]


def test_count_window_over_an_inline_computed_source_with_numeric_mappings_is_valid(tmp_path: Path) -> None:
    """The same bug for an inline computed source (still failing after 582dca2, fixed in
    2c5ce63): its type was inferred for event sources only, a computed one stayed STRING, so
    an integer ``new_value`` was rejected: "new_value 0 (int) is not a STRING". cohort_day
    is 0 then 1, both mapped to 0 (range to 1): the window counts 1, then 2 values."""
    project = tiny_project(tmp_path, ROWS, {"early_days_7": {"data_type": "INTEGER", "sliding_window_property": {
        "window_function": "count", "relative_days_from": -6, "relative_days_to": 0,
        "source_computed_property": {"select": "{cohort_day}",
                                     "value_mappings": [{"range": {"to": 1}, "new_value": 0}]}}}})
    report = project.validate(dry_run=False)
    assert [issue.message for issue in report.errors] == []
    project.refresh(origin="test")
    assert values(project, "early_days_7") == [1, 2]


def test_count_distinct_window_keeps_the_fractions_of_an_inline_source_with_an_integer_default(tmp_path: Path) -> None:
    """SEMANTICS 5.1/5.4: the window counts the distinct values of the inline source, the
    last ``{v} / 2`` of each day: 151.5 on day 1, 152 on day 2, so 1 then 2 values. The
    source has no data_type of its own; the engine typed it INTEGER after its default_value
    0, so each day's value was cast (151.5 -> 152) before the window counted: was [1, 1]."""
    project = tiny_project(tmp_path, [("u1", at(D1, 9), "ios", 303.0), ("u1", at(D2, 9), "ios", 304.0)],
                           {"halves_7": {"data_type": "INTEGER", "sliding_window_property": {
                               "window_function": "count_distinct", "relative_days_from": -6, "relative_days_to": 0,
                               "source_event_property": {"source_event": "events", "select": "{v} / 2",
                                                         "aggregate_function": "last_value", "default_value": 0}}}})
    report = project.validate(dry_run=False)
    assert [issue.message for issue in report.errors] == []
    project.refresh(origin="test")
    assert values(project, "halves_7__inner") == [151.5, 152]  # was: [152, 152]
    assert values(project, "halves_7") == [1, 2]  # was: [1, 1]


DAU = {"dau": {"select": "SUM({property.active})", "x_axis": {"date": {}}}}
ACTIVE = {"active": {"data_type": "INTEGER", "event_property": {
    "source_event": "entity_activity", "select": "1", "aggregate_function": "none", "default_value": 0}},
    "platform": {"data_type": "STRING", "can_group_by": True, "registration_property": {}}}


@pytest.mark.parametrize(("first", "last"), [(dt.date(2024, 1, 5), dt.date(2024, 1, 6)),
                                             (dt.date(2023, 12, 30), dt.date(2023, 12, 31))],
                         ids=["after-the-last-day", "before-the-first-day"])
def test_kpi_range_without_a_materialized_day_gives_null_points(tmp_path: Path, first: dt.date,
                                                               last: dt.date) -> None:
    """SEMANTICS 6: "Date axis: one value per day of the requested range; a day without
    contributing rows gives NULL". A range that only partly overlapped the model worked; one
    with no materialized day at all failed: ModelSource.relation_sql fell back to an empty
    relation that has only entity_id and date, so DuckDB reported
    'Binder Error: Referenced column "active" not found in FROM clause'."""
    project = tiny_project(tmp_path, ROWS, ACTIVE, DAU)
    project.refresh(origin="test")
    result = project.kpi_query(KpiRequest("dau", first, last))
    assert result.points.rows() == [(first, None), (last, None)]
    assert result.total is None


def test_group_by_lists_only_groups_with_contributing_rows(tmp_path: Path) -> None:
    """golden/README.md and the reference: "Grouped series list every group that has a
    contributing row somewhere in the range". u2 (web) registered on day 1 and is not active
    on day 2, so on day 2 its row is outside the DAU population (days_since_last_active =
    1, not 0): no web row contributes. The engine listed every group with any row in the
    range (here web with a NULL point; with a week grain and total_function count, a 0)."""
    project = tiny_project(tmp_path, [("u1", at(D1, 9), "ios", 1.0), ("u2", at(D1, 9), "web", 1.0),
                                      ("u1", at(D2, 9), "ios", 1.0)], ACTIVE, DAU)
    project.refresh(origin="test")
    result = project.kpi_query(KpiRequest("dau", D2, D2, by=["platform"]))
    assert result.points.rows() == [(D2, "ios", 1.0)]  # was: also (D2, "web", None)


def test_a_counter_filter_finds_days_of_users_active_before_registering(tmp_path: Path) -> None:
    """SEMANTICS 4: days_since_last_active counts from the last activity, which may precede
    registration. u1 is active on day 1 and registers on day 2, so its first model row (day
    2) has days_since_last_active = 1 and day 3 has 2. A KPI filtered on
    days_since_last_active = 2 derived only the days 2 after a stored activity day (u1's
    activity day is before its first row, so nothing was stored there) and gave NULL on
    day 3 instead of 1 (found by the random sparse KPI tests)."""
    d3, d4 = D2 + dt.timedelta(days=1), D2 + dt.timedelta(days=2)
    entity = tmp_path / "userentity"
    (entity / "events").mkdir(parents=True)
    (entity / "kpis").mkdir()
    (tmp_path / "asemic.yml").write_text("warehouse: {type: duckdb, path: warehouse.duckdb}\n")
    (entity / "config.yml").write_text("data_model_schema: m\ncohorted_daily_kpis_days: [0]\nactive_days: 3\n")
    columns = {"user_id": {"data_type": "STRING", "tags": ["entity_id_column"]},
               "event_ts": {"data_type": "DATETIME", "tags": ["event_timestamp_column"]}}
    (entity / "events" / "registration.yml").write_text(yaml.safe_dump(
        {"table_name": "raw.registrations", "tags": ["registration_event"], "columns": columns}))
    (entity / "events" / "session.yml").write_text(yaml.safe_dump(
        {"table_name": "raw.sessions", "tags": ["activity_event"], "columns": columns}))
    (entity / "kpis" / "k.yml").write_text(yaml.safe_dump({"kpis": {"idle_2": {
        "select": "COUNT({property.cohort_size})", "where": "{property.days_since_last_active} = 2",
        "x_axis": {"date": {}}}}}))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA raw")
        for table in ("registrations", "sessions"):
            con.execute(f"CREATE TABLE raw.{table} (user_id VARCHAR, event_ts TIMESTAMP)")
        con.executemany("INSERT INTO raw.registrations VALUES (?, ?)", [["u1", at(D2, 9)], ["u2", at(d4, 9)]])
        con.executemany("INSERT INTO raw.sessions VALUES (?, ?)", [["u1", at(D1, 9)], ["u2", at(d4, 9)]])
    project = Project(tmp_path)
    project.refresh(origin="test")
    result = project.kpi_query(KpiRequest("idle_2", D2, d4))
    assert result.points.rows() == [(D2, None), (d3, 1), (d4, None)]  # was: (d3, None)


def test_a_grouped_query_gives_each_groups_points_and_the_ungrouped_total(tmp_path: Path) -> None:
    """A grouped query's points and its total come from one aggregation (GROUPING SETS on
    DuckDB): a user without a platform is a group of its own (NULL), apart from the total.
    By hand: day 1 ios 1, web 2, none 4 (total 7); day 2 ios 8, none 16, web not active
    (total 24); averaged over the days."""
    properties = {**ACTIVE, "v_day": {"data_type": "NUMBER", "event_property": {
        "source_event": "events", "select": "{v}", "aggregate_function": "sum", "default_value": 0}}}
    project = tiny_project(tmp_path, [("u1", at(D1, 9), "ios", 1.0), ("u2", at(D1, 9), "web", 2.0),
                                      ("u3", at(D1, 9), None, 4.0), ("u1", at(D2, 9), "ios", 8.0),
                                      ("u3", at(D2, 9), None, 16.0)], properties,
                           {"rev": {"select": "SUM({property.v_day})", "x_axis": {"date": {"total_function": "avg"}}}})
    project.refresh(origin="test")
    result = project.kpi_query(KpiRequest("rev", D1, D2, by=["platform"]))
    key = lambda row: (row[0], row[1] or "")  # noqa: E731
    assert sorted(result.points.rows(), key=key) == sorted(
        [(D1, "ios", 1.0), (D1, "web", 2.0), (D1, None, 4.0), (D2, "ios", 8.0), (D2, "web", None),
         (D2, None, 16.0)], key=key)
    assert result.total == 15.5  # the average of the days' totals, 7 and 24
    assert {(r["platform"], r["total"]) for r in result.totals.to_dicts()} == {("ios", 4.5), ("web", 2.0), (None, 10.0)}
