"""The dry run: the config compiled against a generated warehouse, which it never changes."""

from __future__ import annotations

import pytest

P = "userentity/properties"
K = "userentity/kpis"
E = "userentity/events"


def test_fixtures_pass_static_and_dry_run_and_change_nothing(project_dw, legacy_project_dw):
    for workspace in (project_dw, legacy_project_dw):
        before = workspace.snapshot()
        report = workspace.validate(dry_run=True)
        assert report.errors == [], [i.format() for i in report.errors]
        assert report.dry_run == "passed"
        assert workspace.validate(dry_run=False).errors == []
        assert workspace.snapshot() == before


def test_dry_run_is_skipped_without_a_warehouse(project):
    report = project.validate(dry_run=True)
    assert report.ok and report.dry_run.startswith("skipped: warehouse not reachable")
    assert project.validate(dry_run=False).dry_run == "skipped: not requested"


def test_missing_table_and_the_warehouse_is_not_modified(project_dw):
    rel = f"{E}/ad_view.yml"
    project_dw.replace(rel, "table_name: game.ad_views", "table_name: game.ad_viewz")
    before = project_dw.snapshot()
    assert project_dw.errors(dry_run=False) == []
    project_dw.expect_one(file=rel, line=project_dw.line(rel, "table_name: game.ad_viewz"), object_id="ad_view",
                          field="table_name", message="table game.ad_viewz does not exist in the warehouse",
                          dry_run=True)
    after = project_dw.snapshot()
    assert after["warehouse.duckdb"] == before["warehouse.duckdb"]  # same bytes, same mtime
    assert after == before  # nothing changed and no .wal or other file appeared


def test_missing_column(project_dw):
    rel = f"{E}/ad_view.yml"
    project_dw.replace(rel, "  revenue_usd: {data_type: NUMBER}\n",
                       "  revenue_usd: {data_type: NUMBER}\n  ad_placement: {data_type: STRING}\n")
    assert project_dw.errors(dry_run=False) == []
    project_dw.expect_one(file=rel, line=project_dw.line(rel, "ad_placement:"), object_id="ad_view",
                          field="columns.ad_placement", message="column 'ad_placement' does not exist in game.ad_views",
                          dry_run=True)


def test_incompatible_column_type(project_dw):
    rel = f"{E}/ad_view.yml"
    project_dw.replace(rel, "ad_network: {data_type: STRING}", "ad_network: {data_type: INTEGER}")
    assert project_dw.errors(dry_run=False) == []
    project_dw.expect_one(file=rel, line=project_dw.line(rel, "ad_network: {data_type: INTEGER}"), object_id="ad_view",
                          field="columns.ad_network.data_type",
                          message="column 'ad_network' is declared INTEGER but is VARCHAR in game.ad_views", dry_run=True)


def test_integer_column_may_be_read_as_number(project_dw):
    project_dw.replace(f"{E}/level_completed.yml", "  level: {data_type: INTEGER}", "  level: {data_type: NUMBER}")
    project_dw.replace(f"{P}/ads_and_levels.yml", "    data_type: INTEGER\n    can_filter: true\n    can_group_by: true\n"
                       "    event_property: {source_event: level_completed, select: '{level}', aggregate_function: min",
                       "    data_type: NUMBER\n    can_filter: true\n    can_group_by: true\n"
                       "    event_property: {source_event: level_completed, select: '{level}', aggregate_function: min")
    assert project_dw.errors(dry_run=True) == []


COMPILE_ERRORS = [
    # (id, file, old, new, needle of the expected line, object, field, message)
    ("event-select", f"{P}/revenue.yml", "select: '{amount_usd}', aggregate_function: max}",
     "select: '{product_id} * 2', aggregate_function: max}", "select: '{product_id} * 2'",
     "biggest_purchase_on_day", "event_property.select", "No function matches"),
    ("event-where", f"{P}/ads_and_levels.yml", "where: \"{ad_network} = 'admob'\"", "where: 'LOWER({revenue_usd}) = 1'",
     "where: 'LOWER({revenue_usd}) = 1'", "admob_ads_watched_on_day", "event_property.where", "lower(DOUBLE)"),
    ("inline-event-select", f"{P}/revenue.yml", "{source_event: purchase, select: '{amount_usd}', aggregate_function: min}",
     "{source_event: purchase, select: 'LOWER({amount_usd})', aggregate_function: min}", "select: 'LOWER({amount_usd})'",
     "smallest_purchase_lifetime", "lifetime_property.source_event_property.select", "lower(DOUBLE)"),
    ("computed-select", f"{P}/revenue.yml", "computed_property: {select: '{payers_lifetime} > 0'}",
     "computed_property: {select: \"{payers_lifetime} > DATE '2024-01-01'\"}", "select: \"{payers_lifetime} > DATE",
     "is_payer", "computed_property.select", "Cannot compare values of type BIGINT and type DATE"),
    ("kpi-select", f"{K}/levels.yml", "select: AVG({property.max_level_reached})",
     "select: AVG({property.max_level_reached} + DATE '2024-01-01')", "select: AVG({property.max_level_reached} + DATE",
     "avg_max_level", "select", "+(BIGINT, DATE)"),
    ("table-where", f"{E}/purchase.yml", "where: '{amount_usd} > 0 AND {transaction_id} IS NOT NULL'",
     "where: \"{amount_usd} > DATE '2024-01-01'\"", "where: \"{amount_usd} > DATE", "purchase", "where",
     "Cannot compare values of type DOUBLE and type DATE"),
]


@pytest.mark.parametrize("case", COMPILE_ERRORS, ids=[c[0] for c in COMPILE_ERRORS])
def test_expression_that_parses_but_does_not_compile(project_dw, case):
    _id, rel, old, new, needle, object_id, field, message = case
    project_dw.replace(rel, old, new)
    assert project_dw.errors(dry_run=False) == [], "the static rules accept it; only the warehouse refuses it"
    issue = project_dw.expect_one(file=rel, line=project_dw.line(rel, needle), object_id=object_id, field=field,
                                  message=message, dry_run=True)
    assert issue.rule == "dry-run"
    assert "compile" in issue.message


def test_unknown_function_is_refused_statically_and_reported_once(project_dw):
    rel = f"{P}/revenue.yml"
    project_dw.replace(rel, "select: '{amount_usd}', aggregate_function: max}",
                       "select: 'UNKNOWN_FN({amount_usd})', aggregate_function: max}")
    line = project_dw.line(rel, "UNKNOWN_FN")
    for dry_run in (False, True):
        project_dw.expect_one(file=rel, line=line, object_id="biggest_purchase_on_day", field="event_property.select",
                              message="Unknown function UNKNOWN_FN", dry_run=dry_run)


@pytest.mark.parametrize(
    "where",
    ["'{amount_usd} > 0; DROP TABLE game.purchases'", "'{amount} > 0'"],
)
def test_refused_table_where_is_reported_once_with_a_warehouse(project_dw, where):
    """The static rules refuse the table's where; the dry run neither crashes nor repeats it
    for every property that reads the table (directly or through entity_activity)."""
    rel = f"{E}/purchase.yml"
    project_dw.replace(rel, "where: '{amount_usd} > 0 AND {transaction_id} IS NOT NULL'", f"where: {where}")
    static = project_dw.errors(dry_run=False)
    assert len(static) == 1
    assert project_dw.errors(dry_run=True) == static


def test_unknown_column_is_reported_once_with_a_warehouse(project_dw):
    rel = f"{P}/activity.yml"
    project_dw.replace(rel, "select: '{session_length_s}'", "select: '{session_len}'")
    project_dw.expect_one(file=rel, line=project_dw.line(rel, "{session_len}"), object_id="playtime_on_day",
                          field="event_property.select", message="not a column of session", dry_run=True)


def test_unreadable_warehouse_is_an_issue_not_a_crash(project):
    project.write("warehouse.duckdb", "this is not a database\n")
    before = project.snapshot()
    report = project.validate(dry_run=True)
    assert len(report.errors) == 1
    issue = report.errors[0]
    assert (issue.file, issue.line, issue.field) == ("asemic.yml", project.line("asemic.yml", "path: warehouse.duckdb"),
                                                     "warehouse.path")
    assert report.dry_run == "failed (the warehouse cannot be read)"
    assert project.snapshot() == before


def test_dry_run_reports_every_problem_at_once(project_dw):
    project_dw.replace(f"{P}/revenue.yml", "select: '{amount_usd}', aggregate_function: max}",
                       "select: '{product_id} * 2', aggregate_function: max}")
    project_dw.replace(f"{P}/revenue.yml", "computed_property: {select: '{payers_lifetime} > 0'}",
                       "computed_property: {select: \"{payers_lifetime} > DATE '2024-01-01'\"}")
    project_dw.replace(f"{K}/levels.yml", "select: AVG({property.max_level_reached})",
                       "select: AVG({property.max_level_reached} + DATE '2024-01-01')")
    project_dw.replace(f"{P}/activity.yml", "select: '{session_length_s}'", "select: '{session_len}'")  # static
    errors = project_dw.errors(dry_run=True)
    assert sorted(e.object_id for e in errors) == ["avg_max_level", "biggest_purchase_on_day", "is_payer",
                                                   "playtime_on_day"], [e.format() for e in errors]
