"""Static validation: valid project + one mutation -> exactly that issue, at the right line.

Every expected line is computed from the mutated text (the line of a needle that the
mutation wrote or that sits on the offending key), never read from the code under test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from asemic_core.config.loader import load_project
from asemic_core.semantic.graph import build_graph
from asemic_core.semantic.resolve import resolve

P = "userentity/properties"
K = "userentity/kpis"
E = "userentity/events"
CONFIG = "userentity/config.yml"


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    old: str
    new: str
    at: str  # needle in the mutated file whose line is the expected line
    object_id: str | None
    field: str | None  # exact field or dotted prefix
    message: str
    after: str | None = None  # `at` is searched after this (unique) text

    def apply(self, project) -> int:
        project.replace(self.file, self.old, self.new)
        return project.line(self.file, self.at, after=self.after)


MUTATIONS = [
    # ---------------------------------------------------------------- property kinds
    Mutation("property-zero-kinds", f"{P}/revenue.yml",
             "    event_property: {source_event: purchase, select: '{product_id}', aggregate_function: count_distinct, default_value: 0}\n",
             "    description: no kind at all\n",
             "  products_bought_on_day:", "products_bought_on_day", None, "exactly one kind"),
    Mutation("property-two-kinds", f"{P}/revenue.yml",
             "    event_property: {source_event: purchase, select: '{product_id}', aggregate_function: count_distinct, default_value: 0}\n",
             "    event_property: {source_event: purchase, select: '{product_id}', aggregate_function: count_distinct, default_value: 0}\n"
             "    computed_property: {select: '1'}\n",
             "  products_bought_on_day:", "products_bought_on_day", None,
             "given: event_property, computed_property"),
    # ------------------------------------------------------------------ references
    Mutation("unknown-source-event", f"{P}/activity.yml",
             "      source_event: session\n      select: '{session_length_s}'",
             "      source_event: sessionz\n      select: '{session_length_s}'",
             "source_event: sessionz", "playtime_on_day", "event_property.source_event", "'sessionz' is not an event table"),
    Mutation("unknown-source-property", f"{P}/revenue.yml",
             "      source_property: revenue_on_day\n      window_function: sum\n      date_from",
             "      source_property: revenue_on_dayz\n      window_function: sum\n      date_from",
             "source_property: revenue_on_dayz", "revenue_launch_week", "fixed_window_property.source_property",
             "'revenue_on_dayz' is not a property"),
    Mutation("unknown-inline-source-event", f"{P}/revenue.yml",
             "        source_event: purchase\n        select: '{date}'",
             "        source_event: purchases\n        select: '{date}'",
             "source_event: purchases", "first_purchase_date",
             "lifetime_property.source_event_property.source_event", "'purchases' is not an event table"),
    Mutation("select-non-column", f"{P}/activity.yml",
             "select: '{session_length_s}'", "select: '{session_len}'",
             "select: '{session_len}'", "playtime_on_day", "event_property.select",
             "{session_len}, which is not a column of session"),
    Mutation("event-where-non-column", f"{P}/ads_and_levels.yml",
             "where: \"{ad_network} = 'admob'\"", "where: \"{network} = 'admob'\"",
             "where: \"{network}", "admob_ads_watched_on_day", "event_property.where",
             "{network}, which is not a column of ad_view"),
    Mutation("table-where-non-column", f"{E}/level_completed.yml",
             "where: '{level} > 0'", "where: '{lvl} > 0'",
             "where: '{lvl} > 0'", "level_completed", "where", "{lvl}, which is not a column of level_completed"),
    Mutation("computed-unknown-property", f"{P}/revenue.yml",
             "DATE_DIFF({first_purchase_date}, {registration_date}, DAY)",
             "DATE_DIFF({first_purchase_dat}, {registration_date}, DAY)",
             "{first_purchase_dat}", "days_to_first_purchase", "computed_property.select",
             "unknown property {first_purchase_dat}"),
    Mutation("computed-inline-unknown-property", f"{P}/ads_and_levels.yml",
             "{select: '{revenue_on_day} + {ad_revenue_on_day}'}", "{select: '{revenue_on_day} + {ad_revenue}'}",
             "{ad_revenue}'", "peak_daily_revenue", "lifetime_property.source_computed_property.select",
             "unknown property {ad_revenue}"),
    Mutation("registration-column-missing", f"{P}/registration.yml",
             "source_column: country", "source_column: cuntry",
             "source_column: cuntry", "registration_country", "registration_property",
             "registration column 'cuntry' does not exist"),
    Mutation("registration-default-column-missing", f"{P}/registration.yml",
             "  build_version:\n", "  build_number:\n",
             "    registration_property: {}", "build_number", "registration_property",
             "registration column 'build_number' does not exist"),
    # --------------------------------------------------------------------- windows
    Mutation("window-from-after-to", f"{P}/activity.yml",
             "      relative_days_from: -1\n      relative_days_to: -1",
             "      relative_days_from: 0\n      relative_days_to: -1",
             "relative_days_from: 0\n      relative_days_to: -1", "previous_days_since_active",
             "sliding_window_property.relative_days_from", "relative_days_from (0) must be <= relative_days_to (-1)"),
    Mutation("window-to-before-active-days", f"{P}/activity.yml",
             "      relative_days_from: -1\n      relative_days_to: -1",
             "      relative_days_from: -40\n      relative_days_to: -31",
             "relative_days_to: -31", "previous_days_since_active",
             "sliding_window_property.relative_days_to", "must be >= -active_days (-30)"),
    Mutation("fixed-window-from-after-to", f"{P}/revenue.yml",
             "date_from: '2024-01-01'", "date_from: '2024-01-09'",
             "date_from: '2024-01-09'", "revenue_launch_week", "fixed_window_property.date_from",
             "date_from 2024-01-09 is after date_to 2024-01-07"),
    Mutation("fixed-window-invalid-date", f"{P}/revenue.yml",
             "date_to: '2024-01-07'", "date_to: 2025-02-30",
             "date_to: 2025-02-30", "revenue_launch_week", "fixed_window_property.date_to", "2025-02-30"),
    Mutation("fixed-window-invalid-quoted-date", f"{P}/revenue.yml",
             "date_from: '2024-01-01'", "date_from: '2024-13-01'",
             "date_from: '2024-13-01'", "revenue_launch_week", "fixed_window_property.date_from", "2024-13-01"),
    # ------------------------------------------------------------ event aggregates
    Mutation("none-with-non-aggregate-select", f"{P}/ads_and_levels.yml",
             "      select: 'COUNT(*)'\n      where", "      select: '{revenue_usd}'\n      where",
             "select: '{revenue_usd}'\n      where", "admob_ads_watched_on_day", "event_property.select",
             "with aggregate_function 'none', select must be an aggregate expression"),
    Mutation("aggregate-in-sum-select", f"{P}/activity.yml",
             "select: '{session_length_s}'", "select: 'SUM({session_length_s})'",
             "select: 'SUM({session_length_s})'", "playtime_on_day", "event_property.select",
             "Aggregate function SUM is not allowed here"),
    Mutation("aggregate-in-event-where", f"{P}/ads_and_levels.yml",
             "where: \"{ad_network} = 'admob'\"", "where: 'COUNT(*) > 1'",
             "where: 'COUNT(*) > 1'", "admob_ads_watched_on_day", "event_property.where", "Aggregate function COUNT"),
    Mutation("aggregate-in-computed", f"{P}/revenue.yml",
             "computed_property: {select: '{payers_lifetime} > 0'}", "computed_property: {select: 'MAX({payers_lifetime}) > 0'}",
             "select: 'MAX({payers_lifetime})", "is_payer", "computed_property.select", "Aggregate function MAX"),
    # ------------------------------------------------------------------------ KPIs
    Mutation("kpi-property-outside-aggregation", f"{K}/levels.yml",
             "select: AVG({property.max_level_reached})",
             "select: AVG({property.max_level_reached}) + {property.max_level_reached}",
             "select: AVG({property.max_level_reached}) +", "avg_max_level", "select",
             "{property.max_level_reached} must be inside an aggregation"),
    Mutation("kpi-nested-aggregation", f"{K}/levels.yml",
             "select: AVG({property.max_level_reached})", "select: SUM(AVG({property.max_level_reached}))",
             "select: SUM(AVG(", "avg_max_level", "select", "Nested aggregate: AVG inside SUM"),
    Mutation("kpi-countif", f"{K}/levels.yml",
             "select: AVG({property.max_level_reached})", "select: COUNTIF({property.max_level_reached} > 3)",
             "select: COUNTIF(", "avg_max_level", "select", "is not a KPI aggregation"),
    Mutation("kpi-any-value", f"{K}/levels.yml",
             "select: AVG({property.max_level_reached})", "select: ANY_VALUE({property.max_level_reached})",
             "select: ANY_VALUE(", "avg_max_level", "select", "ANY_VALUE is not a KPI aggregation"),
    Mutation("kpi-kpi-inside-aggregation", f"{K}/revenue.yml",
             "select: '{kpi.revenue} + {kpi.ad_revenue}'", "select: 'SUM({kpi.revenue})'",
             "select: 'SUM({kpi.revenue})'", "total_revenue", "select", "{kpi.revenue} is already aggregated"),
    Mutation("kpi-unknown-kpi", f"{K}/revenue.yml",
             "SAFE_DIVIDE({kpi.revenue}, {kpi.daily_payers})", "SAFE_DIVIDE({kpi.revenue}, {kpi.daily_payerz})",
             "{kpi.daily_payerz}", "arppu", "select", "unknown KPI {kpi.daily_payerz}"),
    Mutation("kpi-unknown-property", f"{K}/levels.yml",
             "select: AVG({property.max_level_reached})", "select: AVG({property.max_level_reachd})",
             "{property.max_level_reachd}", "avg_max_level", "select", "unknown property {property.max_level_reachd}"),
    Mutation("kpi-where-unknown-property", f"{K}/levels.yml",
             "where: \"{property.level_band} = 'Late game'\"", "where: \"{property.level_bnd} = 'Late game'\"",
             "{property.level_bnd}", "late_game_players", "where", "unknown property {property.level_bnd}"),
    Mutation("kpi-bare-placeholder", f"{K}/levels.yml",
             "select: AVG({property.max_level_reached})", "select: AVG({max_level_reached})",
             "select: AVG({max_level_reached})", "avg_max_level", "select", "write {property.max_level_reached}"),
    Mutation("kpi-axis-missing-in-referenced-kpi", f"{K}/revenue.yml",
             "SAFE_DIVIDE({kpi.revenue}, {kpi.daily_payers})", "SAFE_DIVIDE({kpi.revenue}, {kpi.registrations})",
             "    x_axis:", "arppu", "x_axis", "{kpi.registrations} does not define the x_axis cohort_day that arppu uses",
             after="  arppu:"),
    Mutation("kpi-where-with-kpi", f"{K}/registration.yml",
             "where: '{property.cohort_day} = 0'", "where: '{kpi.dau} > 0'",
             "where: '{kpi.dau} > 0'", "registrations", "where", "a KPI where may only use {property.x}"),
    Mutation("kpi-unknown-axis", f"{K}/registration.yml",
             "    x_axis:\n      date: {}", "    x_axis:\n      week: {}",
             "      week: {}", "registrations", "x_axis.week", "unknown x_axis 'week'"),
    Mutation("kpi-template-without-slot", f"{K}/revenue.yml",
             "  ltv_d{}:", "  ltv_dx:",
             "    template: ['1', '7', '28']", "ltv_dx", "template", "has a template but its id has no '{}' slot"),
    Mutation("kpi-slot-without-template", f"{K}/revenue.yml",
             "  max_daily_spend:", "  max_daily_spend_{}:",
             "  max_daily_spend_{}:", "max_daily_spend_{}", None, "has a '{}' slot but no template"),
    Mutation("kpi-template-bad-value", f"{K}/revenue.yml",
             "template: ['1', '7', '28']", "template: ['1', '7-1', '28']",
             "template: ['1', '7-1', '28']", "ltv_d{}", "template.1", "'7-1' cannot be part of a KPI id"),
    # ------------------------------------------------------------ literal types
    Mutation("default-value-wrong-type", f"{P}/activity.yml",
             "      default_value: 0\n  first_session_platform_on_day:",
             "      default_value: none yet\n  first_session_platform_on_day:",
             "default_value: none yet", "playtime_on_day", "event_property.default_value",
             "default_value 'none yet' (str) is not a NUMBER"),
    Mutation("default-value-bool-for-integer", f"{P}/revenue.yml",
             "select: COUNT(*), aggregate_function: none, default_value: 0}",
             "select: COUNT(*), aggregate_function: none, default_value: false}",
             "default_value: false}", "transactions_on_day", "event_property.default_value", "is not a INTEGER"),
    Mutation("new-value-wrong-type", f"{P}/ads_and_levels.yml",
             "new_value: Early game", "new_value: 3",
             "new_value: 3", "level_band", "computed_property.value_mappings.0.new_value", "new_value 3 (int) is not a STRING"),
    Mutation("new-value-wrong-type-flow", f"{P}/activity.yml",
             "- {constant: 1, new_value: Active on day}", "- {constant: 1, new_value: 1.5}",
             "new_value: 1.5", "was_active_on_day", "computed_property.value_mappings.1.new_value", "is not a STRING"),
    Mutation("range-from-greater-than-to", f"{P}/revenue.yml",
             "- range: {from: 20, to: 100}", "- range: {from: 200, to: 100}",
             "{from: 200, to: 100}", "payment_segment", "computed_property.value_mappings.2.range",
             "range from 200 is greater than to 100"),
    # ----------------------------------------------------------- entity config
    Mutation("start-date-invalid", CONFIG, "  lookback_days: 2\n", "  lookback_days: 2\n  start_date: 2025-02-30\n",
             "start_date: 2025-02-30", "entity", "model_settings.start_date", "invalid date '2025-02-30'"),
    Mutation("end-date-invalid-quoted", CONFIG, "  lookback_days: 2\n", "  lookback_days: 2\n  end_date: '2025-02-30'\n",
             "end_date: '2025-02-30'", "entity", "model_settings.end_date", "invalid date '2025-02-30'"),
    Mutation("start-after-end", CONFIG, "  lookback_days: 2\n",
             "  lookback_days: 2\n  start_date: 2024-02-01\n  end_date: 2024-01-01\n",
             "model_settings:", "entity", "model_settings", "start_date 2024-02-01 is after end_date 2024-01-01"),
    Mutation("bad-duration", CONFIG, "incremental_update_frequency: 1d", "incremental_update_frequency: 5x",
             "incremental_update_frequency: 5x", "entity", "model_settings.incremental_update_frequency",
             "invalid duration '5x'"),
    Mutation("negative-lookback", CONFIG, "lookback_days: 2", "lookback_days: -2",
             "lookback_days: -2", "entity", "model_settings.lookback_days", "greater than or equal to 0"),
    Mutation("cohort-days-empty", CONFIG, "cohorted_daily_kpis_days: [0, 1, 2, 3, 7, 14, 28]",
             "cohorted_daily_kpis_days: []",
             "cohorted_daily_kpis_days: []", "entity", "cohorted_daily_kpis_days", "at least 1 item"),
    Mutation("cohort-days-negative", CONFIG, "cohorted_daily_kpis_days: [0, 1, 2, 3, 7, 14, 28]",
             "cohorted_daily_kpis_days:\n  - 0\n  - -1\n  - 7",
             "  - -1", "entity", "cohorted_daily_kpis_days.1", "greater than or equal to 0"),
    Mutation("active-days-zero", CONFIG, "active_days: 30", "active_days: 0",
             "active_days: 0", "entity", "active_days", "greater than 0"),
    # ------------------------------------------------------------------ events
    Mutation("missing-entity-id-tag", f"{E}/ad_view.yml", "tags: [entity_id_column]", "tags: []",
             "columns:", "ad_view", "columns", "no column is tagged entity_id_column"),
    Mutation("missing-timestamp-tag", f"{E}/ad_view.yml", "tags: [event_timestamp_column]", "tags: []",
             "columns:", "ad_view", "columns", "no column is tagged event_timestamp_column"),
    Mutation("two-entity-id-columns", f"{E}/ad_view.yml",
             "ad_network: {data_type: STRING}", "ad_network: {data_type: STRING, tags: [entity_id_column]}",
             "ad_network:", "ad_view", "columns.ad_network.tags", "2 columns are tagged entity_id_column"),
    Mutation("two-timestamp-columns", f"{E}/level_completed.yml",
             "  duration_s: {data_type: NUMBER}",
             "  duration_s: {data_type: NUMBER}\n  finished_ts: {data_type: DATETIME, tags: [event_timestamp_column]}",
             "finished_ts:", "level_completed", "columns.finished_ts.tags", "2 columns are tagged event_timestamp_column"),
    Mutation("timestamp-tag-on-string", f"{E}/level_completed.yml",
             "  duration_s: {data_type: NUMBER}", "  duration_s: {data_type: NUMBER}\n  started: {data_type: STRING, tags: [date_column]}",
             "started:", "level_completed", "columns.started", "tagged date_column but has data_type STRING"),
    Mutation("enrichment-unknown-column", f"{E}/ad_view.yml", "enrichments: []",
             "enrichments:\n- logical_table: users\n  on:\n  - {source: uid, target: user_id}",
             "{source: uid", "ad_view", "enrichments.0.on.0.source", "source column 'uid'"),
    # ------------------------------------------------------------ unquoted placeholder
    Mutation("unquoted-select", f"{P}/revenue.yml",
             "select: '{amount_usd}', aggregate_function: max}", "select: {amount_usd}, aggregate_function: max}",
             "select: {amount_usd}", "biggest_purchase_on_day", "event_property.select",
             "YAML read {amount_usd} as a mapping: quote it, e.g. '{amount_usd}'"),
    Mutation("unquoted-block-select", f"{P}/revenue.yml",
             "      select: '{revenue_lifetime}'\n", "      select: {revenue_lifetime}\n",
             "select: {revenue_lifetime}", "payment_segment", "computed_property.select", "quote it"),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_one_mutation_one_issue(project, mutation):
    line = mutation.apply(project)
    project.expect_one(file=mutation.file, line=line, object_id=mutation.object_id, field=mutation.field,
                       message=mutation.message)


def test_reserved_event_id(project):
    project.path(f"{E}/ad_view.yml").rename(project.path(f"{E}/entity_activity.yml"))
    project.replace(f"{P}/ads_and_levels.yml", "source_event: ad_view, select: '{revenue_usd}', aggregate_function: sum, default_value: 0}",
                    "source_event: entity_activity, select: '1', aggregate_function: none, default_value: 0}")
    project.replace(f"{P}/ads_and_levels.yml", "      source_event: ad_view\n      select: 'COUNT(*)'",
                    "      source_event: purchase\n      select: 'COUNT(*)'")
    project.replace(f"{P}/ads_and_levels.yml", "where: \"{ad_network} = 'admob'\"", "where: \"{product_id} = 'x'\"")
    project.replace(f"{P}/ads_and_levels.yml", "{source_event: ad_view, select: '{revenue_usd}', aggregate_function: sum}",
                    "{source_event: purchase, select: '{amount_usd}', aggregate_function: sum}")
    project.expect_one(file=f"{E}/entity_activity.yml", line=1, object_id="entity_activity", field=None,
                       message="reserved for the implicit table")


# ------------------------------------------------------------------------ injections

INJECTION_SITES = {
    # site: (file, original text, mutated text with {X} for the injection, object, field)
    "event-select": (f"{P}/activity.yml", "select: '{session_length_s}'", "select: '{session_length_s} + 0{X}'",
                     "playtime_on_day", "event_property.select"),
    "event-where": (f"{P}/ads_and_levels.yml", "where: \"{ad_network} = 'admob'\"", "where: \"{ad_network} = 'admob'{X}\"",
                    "admob_ads_watched_on_day", "event_property.where"),
    "inline-event-select": (f"{P}/revenue.yml", "        select: '{date}'\n", "        select: '{date}{X}'\n",
                            "first_purchase_date", "lifetime_property.source_event_property.select"),
    "computed-select": (f"{P}/revenue.yml", "select: 'DATE_DIFF({first_purchase_date}, {registration_date}, DAY)'",
                        "select: 'DATE_DIFF({first_purchase_date}, {registration_date}, DAY){X}'",
                        "days_to_first_purchase", "computed_property.select"),
    "kpi-select": (f"{K}/levels.yml", "select: AVG({property.max_level_reached})",
                   "select: AVG({property.max_level_reached}){X}", "avg_max_level", "select"),
    "kpi-where": (f"{K}/levels.yml", "where: \"{property.level_band} = 'Late game'\"",
                  "where: \"{property.level_band} = 'Late game'{X}\"", "late_game_players", "where"),
    "table-where": (f"{E}/purchase.yml", "where: '{amount_usd} > 0 AND {transaction_id} IS NOT NULL'",
                    "where: '{amount_usd} > 0 AND {transaction_id} IS NOT NULL{X}'", "purchase", "where"),
}
INJECTIONS = {
    "semicolon": ("; DROP TABLE game.purchases", "';' is not allowed"),
    "semicolon-in-comment": (" -- ok; DROP TABLE x", "';' is not allowed"),
    "ddl": (" + 0 * (DROP TABLE game.purchases)", "SQL statement keyword DROP is not allowed"),
    "dml-delete": (" OR EXISTS (DELETE FROM game.purchases)", "SQL statement keyword DELETE is not allowed"),
    "dml-update": (" + (UPDATE game.purchases SET amount_usd = 0)", "SQL statement keyword UPDATE is not allowed"),
    "subquery": (" + (SELECT COUNT(*) FROM game.purchases)", "Subqueries are not allowed"),
    "in-subquery": (" AND 1 IN (SELECT 1)", "Subqueries are not allowed"),
    "attach": (" + (ATTACH DATABASE x)", "SQL statement keyword ATTACH is not allowed"),
}


@pytest.mark.parametrize("injection", list(INJECTIONS))
@pytest.mark.parametrize("site", list(INJECTION_SITES))
def test_injections_are_refused_everywhere(project, site, injection):
    file, old, new, object_id, field = INJECTION_SITES[site]
    text, message = INJECTIONS[injection]
    mutated = new.replace("{X}", text)
    project.replace(file, old, mutated)
    line = project.line(file, mutated.splitlines()[0])
    issue = project.expect_one(file=file, line=line, object_id=object_id, field=field, message=message)
    assert "aggregate_function" not in issue.message  # no misleading hint for a statement


# ------------------------------------------------------------------------- cycles


def test_property_cycle_spells_the_cycle(project):
    rel = f"{P}/revenue.yml"
    project.append(rel, "  cyc_a:\n    data_type: INTEGER\n    computed_property: {select: '{cyc_b} + 1'}\n"
                        "  cyc_b:\n    data_type: INTEGER\n    computed_property: {select: '{cyc_a} + 1'}\n")
    issue = project.expect_one(file=rel, line=project.line(rel, "computed_property: {select: '{cyc_b} + 1'}"),
                               object_id="cyc_a", field="computed_property",
                               message="circular dependency: cyc_a -> cyc_b -> cyc_a")
    assert issue.rule == "cycle"


def test_property_self_cycle(project):
    rel = f"{P}/revenue.yml"
    project.replace(rel, "computed_property: {select: '{payers_lifetime} > 0'}", "computed_property: {select: '{is_payer} OR TRUE'}")
    project.expect_one(file=rel, line=project.line(rel, "computed_property: {select: '{is_payer} OR TRUE'}"),
                       object_id="is_payer", field="computed_property",
                       message="is_payer -> is_payer")


def test_three_property_cycle_through_window_and_inline_source(project):
    rel = f"{P}/revenue.yml"
    project.append(rel, "  cyc_a:\n    data_type: INTEGER\n    computed_property: {select: '{cyc_b} + 1'}\n"
                        "  cyc_b:\n    data_type: INTEGER\n    lifetime_property:\n"
                        "      source_computed_property: {select: '{cyc_c} * 2'}\n      merge_function: max\n"
                        "  cyc_c:\n    data_type: INTEGER\n    sliding_window_property: {source_property: cyc_a,"
                        " window_function: sum, relative_days_from: -1, relative_days_to: 0}\n")
    errors = project.errors()
    assert len(errors) == 1, [e.format() for e in errors]
    message = errors[0].message
    names = re.search(r"circular dependency: (.*)$", message).group(1).split(" -> ")
    assert names[0] == names[-1]
    visible = [n for n in names if not n.endswith("__inner")]
    assert set(visible) == {"cyc_a", "cyc_b", "cyc_c"}
    # spelled in one consistent direction of the dependency graph
    reads = {"cyc_a": "cyc_b", "cyc_b": "cyc_b__inner", "cyc_b__inner": "cyc_c", "cyc_c": "cyc_a"}
    pairs = list(zip(names, names[1:]))
    assert all(reads[a] == b for a, b in pairs) or all(reads[b] == a for a, b in pairs), message


def test_kpi_cycle_spells_the_cycle(project):
    rel = f"{K}/revenue.yml"
    project.append(rel, "  cyc_k1:\n    select: '{kpi.cyc_k2} + 1'\n    x_axis: {date: {}}\n"
                        "  cyc_k2:\n    select: '{kpi.cyc_k1} + 1'\n    x_axis: {date: {}}\n")
    project.expect_one(file=rel, line=project.line(rel, "select: '{kpi.cyc_k2} + 1'"), object_id="cyc_k1", field="select",
                       message="circular KPI reference: cyc_k1 -> cyc_k2 -> cyc_k1")


def test_kpi_self_reference(project):
    rel = f"{K}/revenue.yml"
    project.replace(rel, "    select: '{kpi.dau}'\n    where: '{property.is_payer}'",
                    "    select: '{kpi.mdau}'\n    where: '{property.is_payer}'")
    project.expect_one(file=rel, line=project.line(rel, "select: '{kpi.mdau}'", after="  mdau:"), object_id="mdau",
                       field="select",
                       message="mdau -> mdau")


# ----------------------------------------------------------- registration / activity


def test_no_registration_event_table(project):
    project.replace(f"{E}/registration.yml", "tags: [registration_event]", "tags: []")
    project.replace(f"{E}/session.yml", "tags: [registration_event, activity_event]", "tags: [activity_event]")
    # without registration tables only the implicit columns remain for registration properties
    for column in ("platform", "country"):
        project.replace(f"{P}/registration.yml", f"registration_property: {{source_column: {column}}}",
                        "registration_property: {source_column: date}")
    project.replace(f"{P}/registration.yml", "    registration_property: {}\n", "    registration_property: {source_column: ts}\n")
    project.expect_one(file="userentity/events", line=None, object_id=None, field="tags",
                       message="no event table is tagged registration_event")


def test_no_registration_event_also_explains_registration_properties(project):
    project.replace(f"{E}/registration.yml", "tags: [registration_event]", "tags: []")
    project.replace(f"{E}/session.yml", "tags: [registration_event, activity_event]", "tags: [activity_event]")
    errors = project.errors()
    assert sum("no event table is tagged registration_event" in e.message for e in errors) == 1
    others = [e for e in errors if "registration_event" not in e.message or e.object_id]
    assert {e.object_id for e in others} == {"registration_platform", "registration_country", "build_version"}
    assert all("tag a column of a registration_event table" in e.message for e in others)


def test_no_activity_event_table(project):
    project.replace(f"{E}/ad_view.yml", "tags: [activity_event]", "tags: []")
    project.replace(f"{E}/purchase.yml", "tags: [activity_event, payment_transaction_event]", "tags: [payment_transaction_event]")
    project.replace(f"{E}/session.yml", "tags: [registration_event, activity_event]", "tags: [registration_event]")
    project.expect_one(file="userentity/events", line=None, object_id=None, field="tags",
                       message="no event table is tagged activity_event")


def test_registration_column_types_must_agree(project):
    rel = f"{E}/session.yml"
    project.replace(rel, "  country: {data_type: STRING, tags: [registration_property]}",
                    "  country: {data_type: INTEGER, tags: [registration_property]}")
    project.expect_one(file=rel, line=project.line(rel, "  country: {data_type: INTEGER"), object_id="session",
                       field="columns.country.data_type", message="registration column 'country' is INTEGER here but STRING")


# ------------------------------------------------------------------ legacy layout


def test_legacy_names_are_reported_at_the_line_written(legacy_project):
    rel = f"{P}/activity.yml"
    legacy_project.replace(rel, "      source_action: login\n      select: '{session_length_s}'",
                           "      source_action: logins\n      select: '{session_length_s}'")
    legacy_project.expect_one(file=rel, line=legacy_project.line(rel, "source_action: logins"), object_id="playtime_on_day",
                              field="event_property.source_event", message="'logins' is not an event table")


def test_legacy_unknown_key_inside_action_property(legacy_project):
    rel = f"{P}/activity.yml"
    legacy_project.replace(rel, "select: '{country}', aggregate_function: last_value}",
                           "select: '{country}', aggregate_function: last_value,\n        bogus: 1}")
    legacy_project.expect_one(file=rel, line=legacy_project.line(rel, "bogus: 1"), object_id="last_login_country",
                              field="lifetime_property", message="unknown field 'bogus'")


def test_legacy_sliding_window_function_name_is_valid(project):
    project.replace(f"{P}/activity.yml", "      window_function: max\n      relative_days_from: -1",
                    "      sliding_window_function: max\n      relative_days_from: -1")
    assert project.errors() == []


def test_legacy_table_tags_are_valid(project):
    project.replace(f"{E}/registration.yml", "tags: [registration_event]", "tags: [first_appearance_action]")
    project.replace(f"{E}/ad_view.yml", "tags: [activity_event]", "tags: [activity_action]")
    project.replace(f"{E}/ad_view.yml", "tags: [event_timestamp_column]", "tags: [action_timestamp_column]")
    project.replace(f"{E}/session.yml", "  platform: {data_type: STRING, tags: [registration_property]}",
                    "  platform: {data_type: STRING, tags: [first_appearance_property]}")
    assert project.errors() == []


# --------------------------------------------------------------------- warnings


def test_unknown_tags_are_warnings_not_errors(project):
    rel = f"{E}/ad_view.yml"
    project.replace(rel, "tags: [activity_event]", "tags: [activity_event, vip_event]")
    report = project.validate()
    assert report.errors == []
    found = [w for w in report.warnings if "vip_event" in w.message]
    assert len(found) == 1 and (found[0].file, found[0].line) == (rel, project.line(rel, "vip_event"))


def test_future_window_is_a_warning(project):
    report = project.validate()
    rel = f"{P}/activity.yml"
    assert report.errors == []
    assert [(w.file, w.line, w.object_id) for w in report.warnings] == [
        (rel, project.line(rel, "relative_days_from: 1, relative_days_to: 7"), "playtime_next_7_days")]


# ----------------------------------------------------------------- the fixtures


def test_fixtures_have_no_static_errors(project, legacy_project):
    assert project.errors() == []
    assert legacy_project.errors() == []
    for workspace in (project, legacy_project):
        resolved = resolve(load_project(workspace.root))
        assert build_graph(resolved).cycles() == []


# ------------------------------------------------------------- many problems at once

MANY = [
    Mutation("m1", CONFIG, "incremental_update_frequency: 1d", "incremental_update_frequency: 5x",
             "incremental_update_frequency: 5x", "entity", "model_settings.incremental_update_frequency", "invalid duration"),
    Mutation("m2", f"{E}/ad_view.yml", "ad_network: {data_type: STRING}",
             "ad_network: {data_type: STRING, tags: [entity_id_column]}",
             "ad_network:", "ad_view", "columns.ad_network.tags", "2 columns are tagged entity_id_column"),
    Mutation("m3", f"{E}/purchase.yml", "IS NOT NULL'", "IS NOT NULL; DROP TABLE x'",
             "where: '{amount_usd}", "purchase", "where", "';' is not allowed"),
    Mutation("m4", f"{P}/activity.yml", "      source_event: session\n      select: '{session_length_s}'",
             "      source_event: sessionz\n      select: '{session_length_s}'",
             "source_event: sessionz", "playtime_on_day", "event_property.source_event", "not an event table"),
    Mutation("m5", f"{P}/activity.yml", "      relative_days_from: -1\n      relative_days_to: -1",
             "      relative_days_from: 0\n      relative_days_to: -1",
             "relative_days_from: 0\n      relative_days_to: -1", "previous_days_since_active",
             "sliding_window_property.relative_days_from", "must be <="),
    Mutation("m6", f"{P}/ads_and_levels.yml", "new_value: Early game", "new_value: 3",
             "new_value: 3", "level_band", "computed_property.value_mappings.0.new_value", "is not a STRING"),
    Mutation("m7", f"{P}/ads_and_levels.yml", "where: \"{ad_network} = 'admob'\"", "where: \"{ad_network} = 'admob' OR DROP\"",
             "OR DROP", "admob_ads_watched_on_day", "event_property.where", "DROP is not allowed"),
    Mutation("m8", f"{P}/registration.yml", "source_column: country", "source_column: cuntry",
             "source_column: cuntry", "registration_country", "registration_property.source_column", "does not exist"),
    Mutation("m9", f"{P}/revenue.yml", "date_from: '2024-01-01'", "date_from: '2024-01-09'",
             "date_from: '2024-01-09'", "revenue_launch_week", "fixed_window_property.date_from", "is after date_to"),
    Mutation("m10", f"{P}/revenue.yml", "DATE_DIFF({first_purchase_date}, {registration_date}, DAY)",
             "DATE_DIFF({first_purchase_dat}, {registration_date}, DAY)",
             "{first_purchase_dat}", "days_to_first_purchase", "computed_property.select", "unknown property"),
    Mutation("m11", f"{K}/levels.yml", "select: AVG({property.max_level_reached})",
             "select: COUNTIF({property.max_level_reached} > 3)",
             "COUNTIF(", "avg_max_level", "select", "is not a KPI aggregation"),
    Mutation("m12", f"{K}/registration.yml", "where: '{property.cohort_day} = 0'", "where: '{kpi.dau} > 0'",
             "where: '{kpi.dau} > 0'", "registrations", "where", "may only use {property.x}"),
    Mutation("m13", f"{K}/revenue.yml", "{kpi.daily_payers})", "{kpi.daily_payerz})",
             "{kpi.daily_payerz}", "arppu", "select", "unknown KPI"),
    Mutation("m14", f"{K}/revenue.yml", "  ltv_d{}:", "  ltv_dx:",
             "    template: ['1', '7', '28']", "ltv_dx", "template", "no '{}' slot"),
]


def test_many_problems_are_reported_at_once(project):
    for mutation in MANY:
        project.replace(mutation.file, mutation.old, mutation.new)
    expected = {(m.file, project.line(m.file, m.at), m.object_id): m for m in MANY}
    errors = project.errors()
    shown = "\n".join(e.format() for e in errors)
    assert len(errors) == len(MANY) == 14, shown
    for issue in errors:
        mutation = expected.pop((issue.file, issue.line, issue.object_id))
        assert mutation.message in issue.message, shown
        assert issue.field == mutation.field or issue.field.startswith(mutation.field + "."), shown
    assert expected == {}
