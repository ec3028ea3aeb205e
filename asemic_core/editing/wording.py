"""Definitions in words, for lists and editors ("sum of dau_active over the 7 days
ending on the day")."""

from __future__ import annotations

from asemic_core.config.models import Property


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def describe_relative_days(day_from: int, day_to: int) -> str:
    """The days ``d+from .. d+to`` of a sliding window, relative to the day ``d``."""
    if day_from > day_to:
        return "no days at all (the first day is after the last)"
    width = day_to - day_from + 1
    if day_from == day_to:
        if day_from == 0:
            return "the day itself"
        side = "before" if day_from < 0 else "after"
        return f"the single day {_days(abs(day_from))} {side} the day"
    if day_to == 0:
        return f"the {width} days ending on the day"
    if day_from == 0:
        return f"the {width} days starting on the day"
    if day_to == -1:
        return f"the {width} days before the day"
    if day_from == 1:
        return f"the {width} days after the day"
    if day_to < 0:
        return f"days {-day_to} to {-day_from} before the day"
    if day_from > 0:
        return f"days {day_from} to {day_to} after the day"
    return f"from {_days(-day_from)} before to {_days(day_to)} after the day ({width} days)"


_WINDOW_NAMES = {"sum": "sum", "avg": "average", "count": "count", "count_distinct": "distinct count",
                 "min": "minimum", "max": "maximum", "first_value": "first value", "last_value": "last value"}


def _source(definition) -> str:
    if definition.source_property:
        return definition.source_property
    if definition.source_event_property is not None:
        inner = definition.source_event_property
        return f"{inner.aggregate_function} of {inner.select} in {inner.source_event}"
    return definition.source_computed_property.select


def describe_property(prop: Property) -> str:
    """One line on what a property computes."""
    definition = prop.definition
    match prop.kind:
        case "event_property":
            what = definition.select if definition.aggregate_function == "none" else \
                f"{definition.aggregate_function} of {definition.select}"
            return f"{what} in {definition.source_event} per day"
        case "registration_property":
            return f"registration column {definition.source_column or '(same name)'}"
        case "computed_property":
            mapped = f", mapped to {len(definition.value_mappings)} value(s)" if definition.value_mappings else ""
            return f"{definition.select}{mapped}"
        case "sliding_window_property":
            return (f"{_WINDOW_NAMES[definition.window_function]} of {_source(definition)} over "
                    f"{describe_relative_days(definition.relative_days_from, definition.relative_days_to)}")
        case "fixed_window_property":
            return (f"{_WINDOW_NAMES[definition.window_function]} of {_source(definition)} from "
                    f"{definition.date_from} to {definition.date_to}")
        case "lifetime_property":
            return f"{_WINDOW_NAMES[definition.merge_function]} of {_source(definition)} over the user's lifetime"
    return ""  # pragma: no cover


KIND_TITLES = {
    "event_property": "Event properties",
    "registration_property": "Registration properties",
    "computed_property": "Computed properties",
    "sliding_window_property": "Sliding-window properties",
    "fixed_window_property": "Fixed-window properties",
    "lifetime_property": "Lifetime properties",
    "base": "Built-in properties",
}

KIND_NAMES = {
    "event_property": "Event",
    "registration_property": "Registration",
    "computed_property": "Computed",
    "sliding_window_property": "Sliding window",
    "fixed_window_property": "Fixed window",
    "lifetime_property": "Lifetime",
}

KIND_HELP = {
    "event_property": "Aggregates the user's rows of one event table on each day.",
    "registration_property": "A column of the user's registration row; constant over the user's life.",
    "computed_property": "An expression over other properties of the same user and day.",
    "sliding_window_property": "Aggregates a property over days relative to each day.",
    "fixed_window_property": "Aggregates a property between two fixed dates.",
    "lifetime_property": "Folds a property over all of the user's days so far.",
}
