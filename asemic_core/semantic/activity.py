"""Properties whose daily values follow from a user's activity days alone.

The daily table stores its activity days apart (backend/seam.py ACTIVE_PARTITION: rows
with days_since_last_active = 0 or cohort_day = 0). A reader that needs only what
happens on those days can skip every other stored row, for the properties this module
recognizes:

- an event property over activity tables (``entity_activity`` or tables tagged
  ``activity_event``): each of its events makes the day an activity day, so it holds its
  default on every other day;
- a registration property, and the base properties registration_date, cohort_size and
  last_activity_date: fixed per user, or changed only on activity days;
- a recency window (``recency``): the MAX over the days ``-K .. 0`` of an activity
  indicator (an event property over the activity relation alone whose value on an
  activity day is one constant). It is the indicator's value while
  days_since_last_active <= K and its default otherwise (and while the user was last
  active before registering: a window sees only registered days);
- a computed property of such properties.
"""

from __future__ import annotations

from dataclasses import dataclass

from asemic_core.semantic import base_properties
from asemic_core.semantic.graph import property_inputs
from asemic_core.semantic.model import ACTIVITY, ResolvedProject

# Event aggregates that give the constant itself on a day with matching events.
VALUE_KEEPING = frozenset({"none", "avg", "min", "max", "first_value", "last_value"})
FIXED_BASE = frozenset({base_properties.ENTITY_ID, base_properties.REGISTRATION_DATE, base_properties.COHORT_SIZE,
                        base_properties.LAST_ACTIVITY_DATE})
# Base properties whose value on any day is the user's value on the registration day.
REGISTRATION_FIXED = frozenset({base_properties.ENTITY_ID, base_properties.REGISTRATION_DATE, base_properties.COHORT_SIZE})


@dataclass(frozen=True)
class Recency:
    """A recency window's value: ``on`` while days_since_last_active <= ``days`` (and the
    last activity is not before registration), else ``off``."""

    days: int
    on: int | float
    off: int | float


def activity_tables(project: ResolvedProject) -> frozenset[str]:
    """The tables whose events make a day an activity day (sql/sources.py activity_relation)."""
    return frozenset(e.id for e in project.events.values() if "activity_event" in e.tags and not e.implicit)


def is_activity_event(project: ResolvedProject, event_id: str) -> bool:
    """Whether each of the event's rows makes its day an activity day (entity_activity, or a
    table tagged activity_event)."""
    event = project.events.get(event_id)
    return event_id == ACTIVITY or (event is not None and "activity_event" in event.tags)


def over_activity_tables(project: ResolvedProject, name: str) -> bool:
    """An event property whose events all fall on activity days."""
    prop = project.properties.get(name)
    return prop is not None and prop.kind == "event_property" and is_activity_event(project, prop.source_event)


def _number(value) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        text = str(value).strip()
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except (TypeError, ValueError):
        return None


def activity_indicator(project: ResolvedProject, name: str) -> tuple[int | float, int | float] | None:
    """(value on an activity day, value on any other day) of an event property that takes
    one constant on exactly the activity days, or None."""
    prop = project.properties.get(name)
    if prop is None or prop.kind != "event_property" or prop.source_event != ACTIVITY:
        return None
    activity = project.events.get(ACTIVITY)
    if activity is None or not (activity.implicit or activity_tables(project) == {ACTIVITY}):
        return None  # other activity tables make activity days this property does not see
    definition = prop.definition
    if definition.where or definition.aggregate_function not in VALUE_KEEPING:
        return None
    on, off = _number(definition.select), _number(definition.default_value)
    if on is None or off is None or on == off:
        return None
    return on, off


def recency(project: ResolvedProject, name: str) -> Recency | None:
    """The recency window ``name`` (a MAX over days -K .. 0 of an activity indicator whose
    activity value is the greater), or None."""
    prop = project.properties.get(name)
    if prop is None or prop.kind != "sliding_window_property" or prop.source is None:
        return None
    definition = prop.definition
    if definition.window_function != "max" or definition.relative_days_to != 0 or definition.relative_days_from > 0:
        return None
    indicator = activity_indicator(project, prop.source)
    if indicator is None or indicator[0] < indicator[1]:
        return None
    return Recency(-definition.relative_days_from, *indicator)


def follows_activity(project: ResolvedProject, name: str) -> bool:
    """Whether ``name``'s value on every day follows from the user's rows of activity and
    registration days (see the module's list)."""
    return _follows(project, name, FIXED_BASE, windows=True)


def _follows(project: ResolvedProject, name: str, base: frozenset[str], windows: bool,
             every_table: bool = False) -> bool:
    """``follows_activity`` (``windows``: recency windows count) or ``settled_at_registration``,
    with ``base`` the base properties that count (``every_table``: event properties over
    any table count)."""
    name = project.property_aliases.get(name, name)
    prop = project.properties.get(name)
    if prop is None:
        return False
    if prop.is_base:
        return prop.id in base
    match prop.kind:
        case "registration_property":
            return True
        case "event_property":
            return every_table or over_activity_tables(project, name)
        case "sliding_window_property":
            return windows and recency(project, name) is not None
        case "computed_property":
            return all(_follows(project, dep, base, windows, every_table) for dep in property_inputs(project, prop))
    return False


def settled_at_registration(project: ResolvedProject, name: str, every_table: bool = False) -> bool:
    """Whether ``name``'s value on a day is the day's own (a stored row of activity) or
    follows from the registration row alone: fixed per user (a registration property,
    entity_id, registration_date, cohort_size), or an event property over activity
    tables (its default on every day without activity), or a computed property of such.
    Unlike ``follows_activity``, nothing that changes on activity days (last_activity_date,
    a recency window) is settled: it would need the user's latest activity.
    ``every_table``: an event property over any table counts too (its default on every day
    without its events; each day with them is stored, in the activity part or not)."""
    return _follows(project, name, REGISTRATION_FIXED, windows=False, every_table=every_table)


def activity_columns(project: ResolvedProject, columns: list[str]) -> dict[str, Recency] | None:
    """The recency windows among ``columns`` when every column (days_since_last_active
    aside: readers derive it) follows from the rows of activity and registration days; a
    reader may then read only those rows and derive the windows. None: it may not (a column
    changes on other days, or a computed column reads a recency window, which readers
    would carry instead of deriving)."""
    named = [project.property_aliases.get(c, c) for c in columns]
    named = [c for c in dict.fromkeys(named) if c != base_properties.DAYS_SINCE_LAST_ACTIVE]
    if not all(follows_activity(project, name) for name in named):
        return None
    if any(_reads_recency(project, name) for name in named if project.properties[name].kind == "computed_property"):
        return None
    return {name: window for name in named if (window := recency(project, name)) is not None}


def _reads_recency(project: ResolvedProject, name: str) -> bool:
    prop = project.properties[name]
    return any(recency(project, dep) is not None
               or (project.properties[dep].kind == "computed_property" and _reads_recency(project, dep))
               for dep in property_inputs(project, prop) if dep in project.properties)
