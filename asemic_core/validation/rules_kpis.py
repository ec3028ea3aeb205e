"""Rules on KPIs (SEMANTICS 6)."""

from __future__ import annotations

from collections.abc import Iterator

import sqlglot
from sqlglot import exp

from asemic_core.config.loader import Located
from asemic_core.issues import Issue
from asemic_core.semantic.kpi_formula import KPI_AGGREGATES, aggregate_function_name, parse_kpi_expression
from asemic_core.semantic.placeholders import references
from asemic_core.semantic.resolve_kpis import expand_templates, template_values
from asemic_core.validation.context import Context, issue_at
from asemic_core.validation.expressions import expression_problem

_IDENTIFIER_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def check_kpis(ctx: Context) -> Iterator[Issue]:
    seen: set[tuple] = set()
    for issue in _all(ctx):
        key = (issue.file, issue.line, issue.object_id, issue.field, issue.message)
        if key not in seen:  # a templated KPI reports a problem once, not once per value
            seen.add(key)
            yield issue


def _all(ctx: Context) -> Iterator[Issue]:
    entity = ctx.files.entity.model if ctx.files.entity else None
    for kpi_id, located in ctx.files.kpis.items():
        yield from _template(kpi_id, located)
    yield from _template_clashes(ctx, entity)
    expanded = expand_templates(ctx.files, entity)
    for item in expanded.values():
        located = item.located
        for axis in located.model.x_axis:
            if axis not in {"date", "cohort_day"} and ctx.project.property_aliases.get(axis) != "date":
                yield issue_at(located, f"unknown x_axis {axis!r}: use date or cohort_day", "x_axis", axis,
                               rule="axis-consistency")
        yield from _select(ctx, item.id, located, item.select)
        if item.where:
            yield from _where(ctx, located, item.where)
    yield from _cycles(ctx)


def _template_clashes(ctx: Context, entity) -> Iterator[Issue]:
    """A templated KPI must not expand to an id another KPI (or template) already has."""
    owner: dict[str, str] = {kpi_id: kpi_id for kpi_id, located in ctx.files.kpis.items() if located.model.template is None}
    for kpi_id, located in ctx.files.kpis.items():
        if located.model.template is None or "{}" not in kpi_id:
            continue
        for value in template_values(located.model, entity):
            new_id = kpi_id.replace("{}", str(value))
            if new_id in owner:
                other = ctx.files.kpis[owner[new_id]]
                yield issue_at(located, f"template value {value!r} makes the id {new_id!r}, which {owner[new_id]!r} "
                               f"already has ({other.file}:{other.line})", "template", rule="duplicate-id")
            else:
                owner[new_id] = kpi_id


def _template(kpi_id: str, located: Located) -> Iterator[Issue]:
    kpi = located.model
    has_slot = "{}" in kpi_id
    if kpi.template is not None and not has_slot:
        yield issue_at(located, f"KPI {kpi_id!r} has a template but its id has no '{{}}' slot for the value", "template",
                       rule="template")
    if kpi.template is None and has_slot:
        yield issue_at(located, f"KPI id {kpi_id!r} has a '{{}}' slot but no template", rule="template")
    if isinstance(kpi.template, list):
        for index, value in enumerate(kpi.template):
            if not set(str(value)) <= _IDENTIFIER_CHARS:
                yield issue_at(located, f"template value {value!r} cannot be part of a KPI id (letters, digits and _ only)",
                               "template", index, rule="template")
        if len(set(map(str, kpi.template))) != len(kpi.template):
            yield issue_at(located, "template values repeat", "template", rule="template")


def _select(ctx: Context, kpi_id: str, located: Located, text: str) -> Iterator[Issue]:
    problem = expression_problem(text, allow_aggregates=True)
    if problem:
        yield issue_at(located, f"invalid select: {problem}", "select", rule="expression")
        return
    for ref in references(text):
        if ref.namespace not in {"property", "kpi"}:
            written = ref.name if ref.namespace is None else f"{ref.namespace}.{ref.name}"
            yield issue_at(located, f"select references {{{written}}}: write {{property.{ref.name}}} or {{kpi.{ref.name}}}",
                           "select", rule="unknown-reference")
        elif ref.namespace == "property":
            yield from _property_ref(ctx, located, ref.name, "select")
        else:
            yield from _kpi_ref(ctx, kpi_id, located, ref.name)
    try:
        tree = parse_kpi_expression(text, ctx.project.property_aliases)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
        return
    yield from _aggregation_rules(located, tree)


def _property_ref(ctx: Context, located: Located, name: str, field: str) -> Iterator[Issue]:
    prop = ctx.project.get_property(name)
    if (prop is None or prop.hidden) and not ctx.failed("properties", name):
        yield issue_at(located, f"{field} references unknown property {{property.{name}}}", field, rule="unknown-reference")


def _kpi_ref(ctx: Context, kpi_id: str, located: Located, name: str) -> Iterator[Issue]:
    target = ctx.project.kpis.get(name)
    if target is None:
        if name == kpi_id:
            return  # reported as a cycle
        entity = ctx.files.entity.model if ctx.files.entity else None
        if name not in expand_templates(ctx.files, entity) and not ctx.failed("kpis", name):
            yield issue_at(located, f"select references unknown KPI {{kpi.{name}}}", "select", rule="unknown-reference")
        return
    own_axes = set(ctx.project.kpis[kpi_id].x_axes) if kpi_id in ctx.project.kpis else set()
    missing = own_axes - set(target.x_axes)
    if missing:
        yield issue_at(located, f"{{kpi.{name}}} does not define the x_axis {', '.join(sorted(missing))} that {kpi_id} uses",
                       "x_axis", rule="axis-consistency")


def _aggregation_rules(located: Located, tree: exp.Expression) -> Iterator[Issue]:
    def walk(node: exp.Expression, inside: str | None) -> Iterator[Issue]:
        function = aggregate_function_name(node)
        if function is not None:
            if inside is not None:
                yield issue_at(located, f"nested aggregation: {function.upper()} inside {inside.upper()}", "select",
                               rule="aggregation-rules")
            elif function not in KPI_AGGREGATES:
                yield issue_at(located, f"{function.upper()} is not a KPI aggregation; use SUM, AVG, COUNT, MIN, MAX or COUNTD",
                               "select", rule="aggregation-rules")
            inside = inside or function
        if isinstance(node, exp.Column):
            if node.name.startswith("__p__") and inside is None:
                yield issue_at(located, f"{{property.{node.name[5:]}}} must be inside an aggregation (SUM, AVG, COUNT, MIN, MAX, COUNTD)",
                               "select", rule="aggregation-rules")
            if node.name.startswith("__k__") and inside is not None:
                yield issue_at(located, f"{{kpi.{node.name[5:]}}} is already aggregated and cannot be inside {inside.upper()}",
                               "select", rule="aggregation-rules")
        if isinstance(node, exp.Window):
            yield issue_at(located, "window functions (OVER) are not allowed in a KPI", "select", rule="aggregation-rules")
        for child in node.iter_expressions():
            yield from walk(child, inside)

    yield from walk(tree, None)


def _where(ctx: Context, located: Located, text: str) -> Iterator[Issue]:
    problem = expression_problem(text, allow_aggregates=False)
    if problem:
        yield issue_at(located, f"invalid where: {problem}", "where", rule="expression")
        return
    for ref in references(text):
        if ref.namespace != "property":
            written = ref.name if ref.namespace is None else f"{ref.namespace}.{ref.name}"
            yield issue_at(located, f"where references {{{written}}}: a KPI where may only use {{property.x}}", "where",
                           rule="unknown-reference")
        else:
            yield from _property_ref(ctx, located, ref.name, "where")


def _cycles(ctx: Context) -> Iterator[Issue]:
    for cycle in ctx.graph.cycles():
        if not all(key.startswith("kpi:") for key in cycle):
            continue
        names = [key.split(":", 1)[1] for key in cycle]
        first = ctx.project.kpis.get(names[0])
        if first is None or first.located is None:
            continue
        yield issue_at(first.located, f"circular KPI reference: {' -> '.join(names)}", "select",
                       object_id=first.template_id or first.id, rule="cycle")
