"""Properties as the engine sees them: base properties, inline sources, dependencies."""

from __future__ import annotations

from asemic_core.config.loader import Located, ProjectFiles
from asemic_core.config.models import (
    ComputedPropertyDef,
    DataType,
    EventPropertyDef,
    FixedWindowDef,
    LifetimeDef,
    Property,
    RegistrationPropertyDef,
    SlidingWindowDef,
)
from asemic_core.semantic.model import ResolvedEvent, ResolvedProperty
from asemic_core.semantic.base_properties import (
    COHORT_DAY,
    COHORT_SIZE,
    DATE,
    DAYS_SINCE_LAST_ACTIVE,
    ENTITY_ID,
    LAST_ACTIVITY_DATE,
    REGISTRATION_DATE,
)
from asemic_core.semantic.placeholders import canonical_property_name, references

BASE_PROPERTIES: dict[str, tuple[DataType, str]] = {
    DATE: (DataType.DATE, "The day of the row"),
    ENTITY_ID: (DataType.STRING, "The user id"),
    REGISTRATION_DATE: (DataType.DATE, "Date of the user's first registration event"),
    COHORT_DAY: (DataType.INTEGER, "Days since registration (0 on the registration day)"),
    COHORT_SIZE: (DataType.INTEGER, "1 for every user and day; sums to the number of users"),
    LAST_ACTIVITY_DATE: (DataType.DATE, "Latest day on or before this day with activity"),
    DAYS_SINCE_LAST_ACTIVE: (DataType.INTEGER, "Days since the last active day (0 when active today)"),
}


def default_label(property_id: str) -> str:
    return " ".join(word.capitalize() for word in property_id.split("_") if word)


def _computed_deps(definition: ComputedPropertyDef) -> tuple[str, ...]:
    return tuple(dict.fromkeys(canonical_property_name(ref.name) for ref in references(definition.select)))


def resolve_properties(files: ProjectFiles, events: dict[str, ResolvedEvent]) -> tuple[dict[str, ResolvedProperty], dict[str, str]]:
    """Return resolved properties by id and the alias table for property names."""
    props: dict[str, ResolvedProperty] = {}
    for prop_id, (data_type, description) in BASE_PROPERTIES.items():
        if prop_id == ENTITY_ID:
            data_type = _entity_id_type(events)
        props[prop_id] = ResolvedProperty(
            id=prop_id, data_type=data_type, kind="base", label=default_label(prop_id),
            description=description, can_filter=True,
            can_group_by=prop_id in {REGISTRATION_DATE, COHORT_DAY, DAYS_SINCE_LAST_ACTIVE},
        )
    aliases = {"asemic_date": "date", "first_appearance_date": "registration_date"}
    for event in events.values():
        if "registration_event" in event.tags and event.date_column and event.date_column != "date":
            aliases[event.date_column] = "date"

    for prop_id, located in files.properties.items():
        for resolved in _resolve_one(prop_id, located, events):
            props[resolved.id] = resolved  # the config wins over a base property
    for alias in list(aliases):
        if alias in props and not props[alias].is_base:
            del aliases[alias]  # a property of that name defined by the user is itself
    return props, aliases


def _entity_id_type(events: dict[str, ResolvedEvent]) -> DataType:
    for event in events.values():
        if "registration_event" in event.tags and event.entity_id_column:
            return event.columns.get(event.entity_id_column, DataType.STRING)
    return DataType.STRING


def _resolve_one(prop_id: str, located: Located[Property], events: dict[str, ResolvedEvent]) -> list[ResolvedProperty]:
    prop = located.model
    definition = prop.definition
    common = dict(
        data_type=prop.data_type, kind=prop.kind, label=prop.label or default_label(prop_id),
        description=prop.description, can_filter=prop.can_filter, can_group_by=prop.can_group_by,
        definition=definition, located=located, field_prefix=(prop.kind,),
    )
    match definition:
        case EventPropertyDef():
            return [ResolvedProperty(id=prop_id, source_event=definition.source_event, **common)]
        case RegistrationPropertyDef():
            return [ResolvedProperty(id=prop_id, depends_on=(), **common)]
        case ComputedPropertyDef():
            return [ResolvedProperty(id=prop_id, depends_on=_computed_deps(definition), **common)]
        case SlidingWindowDef() | FixedWindowDef() | LifetimeDef():
            return _sourced(prop_id, prop, definition, common, events)
        case _:  # pragma: no cover - the model guarantees one of the kinds
            raise AssertionError(f"unhandled property kind {type(definition).__name__}")


def _sourced(prop_id, prop, definition, common, events) -> list[ResolvedProperty]:
    if definition.source_property is not None:
        source = canonical_property_name(definition.source_property)
        return [ResolvedProperty(id=prop_id, source=source, depends_on=(source,), **common)]
    inner_id = f"{prop_id}__inner"
    located = common["located"]
    if definition.source_event_property is not None:
        inner_def = definition.source_event_property
        inner = ResolvedProperty(
            id=inner_id, data_type=_inner_type(prop.data_type, definition, inner_def, events.get(inner_def.source_event)),
            kind="event_property",
            label=f"{common['label']} (source)", definition=inner_def, source_event=inner_def.source_event,
            hidden=True, parent=prop_id, located=located, field_prefix=(prop.kind, "source_event_property"),
        )
    else:
        inner_def = definition.source_computed_property
        inner = ResolvedProperty(
            id=inner_id, data_type=_inner_type(prop.data_type, definition, inner_def), kind="computed_property",
            label=f"{common['label']} (source)", definition=inner_def, depends_on=_computed_deps(inner_def),
            hidden=True, parent=prop_id, located=located, field_prefix=(prop.kind, "source_computed_property"),
        )
    outer = ResolvedProperty(id=prop_id, source=inner_id, depends_on=(inner_id,), **common)
    return [inner, outer]


def _inner_type(outer: DataType, definition, inner_def=None, event=None) -> DataType:
    """The type of an inline source: as written inside it, else what it evidently holds."""
    if inner_def is not None and getattr(inner_def, "data_type", None) is not None:
        return inner_def.data_type
    function = getattr(definition, "window_function", None)
    if function not in {"count", "count_distinct"}:
        # sum of NUMBER is NUMBER, max of DATE is DATE: the source has the property's type,
        # except that an average of whole numbers is not one.
        return DataType.NUMBER if function == "avg" and outer is DataType.INTEGER else outer
    # A count counts values of any type: infer the values' own type where it is evident.
    if isinstance(inner_def, EventPropertyDef):
        if inner_def.aggregate_function in {"count", "count_distinct"}:
            return DataType.INTEGER
        if inner_def.aggregate_function in {"sum", "avg", "none"}:
            return DataType.NUMBER
        refs = references(inner_def.select)  # a plain column has the column's type (0.5, not its default's 0)
        if event is not None and len(refs) == 1 and refs[0].namespace is None and inner_def.select.strip() == "{" + refs[0].name + "}":
            column = event.columns.get(refs[0].name)
            if column is not None:
                return column
        # The default tells the kind of the values, not their precision: a whole default (0)
        # says nothing of min/max/first/last of an expression (last {v} / 2 is 151.5), and an
        # INTEGER column would round each day's value before the count (151.5 and 152 would
        # count once). NUMBER holds both the default and the expression's values as they are.
        default = inner_def.default_value
        if isinstance(default, bool):
            return DataType.BOOLEAN
        if isinstance(default, (int, float)):
            return DataType.NUMBER
    if isinstance(inner_def, ComputedPropertyDef) and inner_def.value_mappings:
        values = [m.new_value for m in inner_def.value_mappings if m.new_value is not None]
        if values and all(isinstance(v, bool) for v in values):
            return DataType.BOOLEAN
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return DataType.INTEGER
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return DataType.NUMBER
    return DataType.STRING  # counting is unaffected by the text form of a value
