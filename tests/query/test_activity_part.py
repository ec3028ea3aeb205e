"""Which properties follow from the activity days alone (semantic/activity.py): the KPI
runs read only the daily table's activity part for those (values: test_kpi_delta.py)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from asemic_core.semantic.activity import Recency, activity_columns, activity_indicator, follows_activity, recency


@pytest.fixture(scope="module")
def resolved(demo_template):
    from asemic_core.project import Project

    return Project(demo_template).resolved()


def _with(resolved, name: str, **changes):
    """A copy of the project where property ``name``'s definition has ``changes``."""
    changed = copy.copy(resolved)
    prop = resolved.properties[name]
    changed.properties = {**resolved.properties,
                          name: dataclasses.replace(prop, definition=prop.definition.model_copy(update=changes))}
    return changed


def test_the_demos_recency_windows(resolved) -> None:
    # mau_active: MAX over days -27 .. 0 of dau_active (1 on an activity day, default 0)
    assert activity_indicator(resolved, "dau_active") == (1, 0)
    assert recency(resolved, "mau_active") == Recency(27, 1, 0)
    assert recency(resolved, "wau_active") == Recency(6, 1, 0)
    # sums change on the day an activity leaves them; -7 .. -1 does not end on the day
    for name in ("days_active_last_7_days", "days_active_last_28_days", "days_active_previous_7_days",
                 "revenue_last_28_days", "dau_active", "is_churned"):
        assert recency(resolved, name) is None, name


def test_what_follows_from_the_activity_days(resolved) -> None:
    follows = {"dau_active", "wau_active", "mau_active", "platform", "country", "registration_date",
               "last_activity_date"}
    # purchases are not activity events; day counters and 7-day sums change on other days
    others = {"revenue_on_day", "lifetime_revenue", "days_active_last_7_days", "days_since_last_active",
              "cohort_day", "is_churned", "mau_lost", "activity_segment", "is_reactivated"}
    assert {name for name in follows | others if follows_activity(resolved, name)} == follows


@pytest.mark.parametrize("changes", [
    {"where": "1 = 1"},  # some activity days might not match
    {"aggregate_function": "count"},  # the number of events, not one constant
    {"aggregate_function": "sum"},
    {"select": "event_id"},  # not a constant
    {"default_value": None},
    {"default_value": 1},  # the same value on every day
])
def test_an_indicator_takes_one_constant_on_exactly_the_activity_days(resolved, changes) -> None:
    changed = _with(resolved, "dau_active", **changes)
    assert activity_indicator(changed, "dau_active") is None
    assert recency(changed, "mau_active") is None


def test_a_window_whose_off_value_is_the_greater_is_no_recency_window(resolved) -> None:
    changed = _with(resolved, "dau_active", default_value=5)
    assert activity_indicator(changed, "dau_active") == (1, 5)
    assert recency(changed, "mau_active") is None


def test_an_indicator_over_one_activity_table_is_not_taken_for_every_activity(resolved) -> None:
    """Only the activity relation (every activity table) makes dsla = 0 mean "value on"."""
    prop = resolved.properties["dau_active"]
    changed = copy.copy(resolved)
    changed.properties = {**resolved.properties, "dau_active": dataclasses.replace(prop, source_event="session")}
    assert activity_indicator(changed, "dau_active") is None
    assert follows_activity(changed, "dau_active")  # its values still fall on activity days only


def test_a_kpi_reads_the_activity_part_only_when_every_column_follows(resolved) -> None:
    assert activity_columns(resolved, ["mau_active", "platform", "days_since_last_active"]) == {
        "mau_active": Recency(27, 1, 0)}
    assert activity_columns(resolved, ["dau_active", "country", "days_since_last_active"]) == {}
    assert activity_columns(resolved, ["mau_active", "days_active_last_7_days", "days_since_last_active"]) is None
    assert activity_columns(resolved, ["mau_active", "revenue_on_day"]) is None


def test_a_computed_property_of_a_recency_window_reads_every_stored_row(resolved) -> None:
    """Readers carry a computed column's inputs over gap days; a recency window must be
    derived instead, so a computed property reading one keeps the full path."""
    monthly = dataclasses.replace(resolved.properties["mau_lost"], id="monthly", depends_on=("mau_active",))
    changed = copy.copy(resolved)
    changed.properties = {**resolved.properties, "monthly": monthly}
    assert follows_activity(changed, "monthly")
    assert activity_columns(changed, ["monthly", "days_since_last_active"]) is None
    assert activity_columns(changed, ["mau_active", "days_since_last_active"]) == {"mau_active": Recency(27, 1, 0)}
