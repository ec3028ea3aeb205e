"""Rules on properties (SEMANTICS 5)."""

from __future__ import annotations

from collections.abc import Iterator

from asemic_core.config.models import (
    ComputedPropertyDef,
    DataType,
    EventPropertyDef,
    FixedWindowDef,
    LifetimeDef,
    RegistrationPropertyDef,
    SlidingWindowDef,
)
from asemic_core.issues import Issue, Severity
from asemic_core.semantic.model import REGISTRATIONS, ResolvedProperty
from asemic_core.semantic.placeholders import canonical_property_name, references
from asemic_core.sql.expressions import ExpressionError, parse_expression, placeholders_outside_aggregates
from asemic_core.validation.context import Context, issue_at, property_issue
from asemic_core.validation.data_types import fits, window_result_type
from asemic_core.validation.literal_types import describe, literal_fits

NUMERIC = {DataType.NUMBER, DataType.INTEGER}
NUMERIC_RESULT = {"count", "count_distinct", "sum", "avg"}


def check_properties(ctx: Context) -> Iterator[Issue]:
    for prop in ctx.project.properties.values():
        if prop.is_base:
            continue
        definition = prop.definition
        match definition:
            case EventPropertyDef():
                yield from _event_property(ctx, prop, definition)
            case RegistrationPropertyDef():
                yield from _registration_property(ctx, prop, definition)
            case ComputedPropertyDef():
                yield from _computed_property(ctx, prop, definition)
            case SlidingWindowDef():
                yield from _sourced(ctx, prop, definition)
                yield from _sliding_window(ctx, prop, definition)
            case FixedWindowDef():
                yield from _sourced(ctx, prop, definition)
                if definition.date_from > definition.date_to:
                    yield property_issue(prop, f"date_from {definition.date_from} is after date_to {definition.date_to}",
                                         "date_from", rule="window-bounds")
            case LifetimeDef():
                yield from _sourced(ctx, prop, definition)
                if definition.merge_function == "sum" and prop.data_type not in NUMERIC:
                    yield property_issue(prop, f"merge_function sum needs a NUMBER or INTEGER property, not {prop.data_type.value}",
                                         "data_type", rule="aggregation-type")
            case _:  # pragma: no cover
                raise AssertionError(type(definition))
    yield from _cycles(ctx)


def _event_property(ctx: Context, prop: ResolvedProperty, definition: EventPropertyDef) -> Iterator[Issue]:
    event = ctx.project.events.get(definition.source_event)
    if event is None and not ctx.failed("events", definition.source_event):
        known = ", ".join(sorted(ctx.project.events))
        yield property_issue(prop, f"source_event {definition.source_event!r} is not an event table (known: {known})",
                             "source_event", rule="unknown-reference")
    for field_name in ("select", "where"):
        text = getattr(definition, field_name)
        if text is None:
            continue
        aggregates_allowed = field_name == "select" and definition.aggregate_function == "none"
        try:
            parsed = parse_expression(text, allow_aggregates=aggregates_allowed)
        except ExpressionError as err:
            hint = ""
            if field_name == "select" and not aggregates_allowed and err.message.startswith("Aggregate function"):
                hint = f" (aggregate_function is {definition.aggregate_function!r}; use 'none' to write the aggregate yourself)"
            yield property_issue(prop, f"invalid {field_name}: {err.message}{hint}", field_name, rule="expression")
            continue
        if aggregates_allowed and placeholders_outside_aggregates(parsed):
            yield property_issue(
                prop, "with aggregate_function 'none', select must be an aggregate expression (e.g. COUNT(*)) "
                "or a constant such as 1", "select", rule="aggregation-rules")
        if event is not None:
            for ref in references(text):
                # `{level_started.level}` names a dotted column of a wide event table.
                written = ref.name if ref.namespace is None else f"{ref.namespace}.{ref.name}"
                if event.column(written) is None and ctx.project.property_aliases.get(written) != "date":
                    yield property_issue(prop, f"{field_name} references {{{written}}}, which is not a column of "
                                         f"{definition.source_event}", field_name, rule="unknown-reference")
    if definition.aggregate_function in NUMERIC_RESULT and prop.data_type not in NUMERIC:
        yield property_issue(prop, f"aggregate_function {definition.aggregate_function} gives a number, but data_type is "
                             f"{prop.data_type.value}", "aggregate_function", rule="aggregation-type")
    if not literal_fits(definition.default_value, prop.data_type):
        yield property_issue(prop, f"default_value {describe(definition.default_value)} is not a {prop.data_type.value}",
                             "default_value", rule="literal-type")


def _registration_property(ctx: Context, prop: ResolvedProperty, definition: RegistrationPropertyDef) -> Iterator[Issue]:
    column = definition.source_column or prop.id
    registrations = ctx.project.events.get(REGISTRATIONS)
    if registrations is not None and registrations.column(column) is None:
        available = ", ".join(sorted(registrations.columns))
        field = ("source_column",) if definition.source_column else ()
        yield property_issue(prop, f"registration column {column!r} does not exist; registration tables provide: {available} "
                             "(tag a column of a registration_event table with registration_property)",
                             *field, rule="unknown-reference")


def _computed_property(ctx: Context, prop: ResolvedProperty, definition: ComputedPropertyDef) -> Iterator[Issue]:
    problem = None
    try:
        parse_expression(definition.select, allow_aggregates=False)
    except ExpressionError as err:
        problem = err.message
    if problem:
        yield property_issue(prop, f"invalid select: {problem}", "select", rule="expression")
    for ref in references(definition.select):
        name = canonical_property_name(ref.name)
        target = ctx.project.get_property(name)
        if ref.namespace is not None:
            yield property_issue(prop, f"select references {{{ref.namespace}.{ref.name}}}: computed properties "
                                 f"reference other properties as {{{ref.name}}}", "select", rule="unknown-reference")
        elif (target is None or target.hidden) and not ctx.failed("properties", name):
            yield property_issue(prop, f"select references unknown property {{{ref.name}}}", "select",
                                 rule="unknown-reference")
    for index, mapping in enumerate(definition.value_mappings or []):
        if not literal_fits(mapping.new_value, prop.data_type):
            yield property_issue(prop, f"new_value {describe(mapping.new_value)} is not a {prop.data_type.value}",
                                 "value_mappings", index, "new_value", rule="literal-type")
        if mapping.range is not None:
            low, high = mapping.range.from_, mapping.range.to
            if low is None and high is None:
                yield property_issue(prop, "a range needs 'from', 'to' or both", "value_mappings", index, "range",
                                     rule="literal-type")
            elif low is not None and high is not None:
                try:
                    if low > high:
                        yield property_issue(prop, f"range from {low!r} is greater than to {high!r}",
                                             "value_mappings", index, "range", rule="literal-type")
                except TypeError:
                    yield property_issue(prop, f"range bounds {low!r} and {high!r} are not comparable",
                                         "value_mappings", index, "range", rule="literal-type")


def _sourced(ctx: Context, prop: ResolvedProperty, definition) -> Iterator[Issue]:
    if definition.source_property is not None:
        target = ctx.project.get_property(canonical_property_name(definition.source_property))
        if (target is None or target.hidden) and not ctx.failed("properties", definition.source_property):
            yield property_issue(prop, f"source_property {definition.source_property!r} is not a property",
                                 "source_property", rule="unknown-reference")
    function = getattr(definition, "window_function", None) or getattr(definition, "merge_function", None)
    if function in NUMERIC_RESULT and prop.data_type not in NUMERIC:
        yield property_issue(prop, f"{function} gives a number, but data_type is {prop.data_type.value}", "data_type",
                             rule="aggregation-type")
        return
    source = ctx.project.properties.get(prop.source or "")
    if function is None or source is None or (source.hidden and getattr(source.definition, "data_type", None) is None):
        return  # an inline source without a data_type of its own has the property's type
    result = window_result_type(function, source.data_type)
    if not fits(prop.data_type, result):
        yield issue_at(prop.located, f"data_type is {prop.data_type.value}, but {function} of "
                       f"{'the inline source' if source.hidden else source.id} ({source.data_type.value}) gives "
                       f"{result.value}: declare data_type: {result.value}", "data_type", object_id=prop.id,
                       rule="data-type")


def _sliding_window(ctx: Context, prop: ResolvedProperty, definition: SlidingWindowDef) -> Iterator[Issue]:
    low, high = definition.relative_days_from, definition.relative_days_to
    if low > high:
        yield property_issue(prop, f"relative_days_from ({low}) must be <= relative_days_to ({high})",
                             "relative_days_from", rule="window-bounds")
    active_days = ctx.project.active_days
    if ctx.project.entity is not None and high < -active_days:
        yield property_issue(prop, f"relative_days_to ({high}) must be >= -active_days (-{active_days})",
                             "relative_days_to", rule="window-bounds")
    if high > 0:
        yield property_issue(prop, f"this window looks {high} day(s) into the future: its value for a day changes as "
                             "later days arrive", "relative_days_to", rule="window-bounds", severity=Severity.WARNING)


def _cycles(ctx: Context) -> Iterator[Issue]:
    for cycle in ctx.graph.cycles():
        if not all(key.startswith("property:") for key in cycle):
            continue
        names = [key.split(":", 1)[1] for key in cycle]
        first = ctx.project.properties.get(names[0])
        if first is None:
            continue
        spelled = " -> ".join(names)
        yield property_issue(first, f"circular dependency: {spelled}", rule="cycle")
