"""KPIs as the engine sees them: templates expanded, ``{kpi.x}`` unfolded, formulas split
into aggregations, each with its accumulated filters and its population (SEMANTICS 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from asemic_core.config.loader import Located, ProjectFiles
from asemic_core.config.models import EntityConfig, Kpi
from asemic_core.semantic.kpi_formula import (
    KPI_AGGREGATES,
    aggregate_function_name,
    marker_name,
    parse_kpi_expression,
    referenced_names,
)
from asemic_core.semantic.model import Aggregation, ResolvedKpi, ResolvedProperty
from asemic_core.semantic.base_properties import COHORT_DAY, DAYS_SINCE_LAST_ACTIVE
from asemic_core.semantic.placeholders import substitute_template
from asemic_core.semantic.resolve_properties import default_label


@dataclass
class ExpandedKpi:
    id: str
    kpi: Kpi
    located: Located[Kpi]
    select: str
    where: str | None
    label: str
    description: str | None
    template_id: str | None = None
    template_value: object = None


def template_values(kpi: Kpi, entity: EntityConfig | None) -> list:
    if kpi.template is None:
        return []
    if kpi.template == "cohort_day":
        return list(entity.cohorted_daily_kpis_days) if entity else []
    return list(kpi.template)


def expand_templates(files: ProjectFiles, entity: EntityConfig | None) -> dict[str, ExpandedKpi]:
    expanded: dict[str, ExpandedKpi] = {}
    for kpi_id, located in files.kpis.items():
        kpi = located.model
        label = kpi.label or default_label(kpi_id.replace("{}", "{}"))
        if kpi.template is None:
            expanded[kpi_id] = ExpandedKpi(kpi_id, kpi, located, kpi.select, kpi.where, label, kpi.description)
            continue
        for value in template_values(kpi, entity):
            new_id = kpi_id.replace("{}", str(value))
            expanded.setdefault(new_id, ExpandedKpi(
                new_id, kpi, located, kpi.select, substitute_template(kpi.where, value),
                substitute_template(label, value) or new_id, substitute_template(kpi.description, value),
                template_id=kpi_id, template_value=value,
            ))
    return expanded


class _KpiResolver:
    def __init__(self, expanded: dict[str, ExpandedKpi], props: dict[str, ResolvedProperty],
                 aliases: dict[str, str], entity: EntityConfig | None) -> None:
        self.expanded = expanded
        self.props = props
        self.aliases = aliases
        self.entity = entity
        self.memo: dict[str, tuple[exp.Expression, list[Aggregation]] | None] = {}

    def _where_tree(self, text: str | None) -> exp.Expression | None:
        if not text:
            return None
        try:
            return parse_kpi_expression(text, self.aliases)
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
            return None

    def unfold(self, kpi_id: str, stack: tuple[str, ...]) -> tuple[exp.Expression, list[Aggregation]] | None:
        """Formula of ``kpi_id`` with aggregations numbered from 0, filters include its where."""
        if kpi_id in self.memo:
            return self.memo[kpi_id]
        item = self.expanded[kpi_id]
        try:
            tree = parse_kpi_expression(item.select, self.aliases)
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
            self.memo[kpi_id] = None
            return None
        own_filter = self._where_tree(item.where)
        aggregations: list[Aggregation] = []

        def replace(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and node.name.startswith("__k__"):
                ref = node.name[len("__k__"):]
                if ref in stack or ref not in self.expanded:
                    return node  # a cycle or unknown reference; validation reports it
                inner = self.unfold(ref, stack + (ref,))
                if inner is None:
                    return node
                inner_tree, inner_aggs = inner
                offset = len(aggregations)
                for agg in inner_aggs:
                    filters = ((own_filter,) if own_filter is not None else ()) + agg.filters
                    aggregations.append(Aggregation(agg.function, agg.argument, agg.properties, filters, "", agg.origin_kpi))
                renumbered = inner_tree.copy().transform(
                    lambda n: exp.column(f"__agg_{int(n.name[6:]) + offset}")
                    if isinstance(n, exp.Column) and n.name.startswith("__agg_") else n
                )
                return exp.Paren(this=renumbered)
            function = aggregate_function_name(node)
            if function is not None:
                argument = _aggregate_argument(node)
                used = tuple(dict.fromkeys(referenced_names(argument, "__p__"))) if argument is not None else ()
                aggregations.append(Aggregation(
                    function, argument, used, (own_filter,) if own_filter is not None else (), "", kpi_id,
                ))
                return exp.column(f"__agg_{len(aggregations) - 1}")
            return node

        formula = _transform_outside_aggregates(tree, replace)
        self.memo[kpi_id] = (formula, aggregations)
        return self.memo[kpi_id]

    def population(self, agg: Aggregation) -> str:
        return population_of(agg.properties, agg.filters, self.props, self.aliases, self.entity)


def population_of(properties, filters, props: dict[str, ResolvedProperty], aliases: dict[str, str],
                  entity: EntityConfig | None) -> str:
    """Which rows an aggregation sees on the date axis (SEMANTICS 6, rules 2 and 3).

    ``filters`` are marker trees (``parse_kpi_expression``) of the accumulated wheres.
    Returns "recent" (rule 2), "active_day", "active_window" or "all".
    """
    predicates = _flatten_and(tuple(filters))
    if len(predicates) == 1 and entity is not None:
        equality = _simple_equality(predicates[0])
        if equality and equality[0] in {COHORT_DAY, DAYS_SINCE_LAST_ACTIVE} and equality[1] <= entity.active_days:
            return "recent"
    kinds: set[str] = set()
    seen: set[str] = set()
    pending = list(properties)
    while pending:
        raw = pending.pop()
        name = aliases.get(raw, raw)
        prop = props.get(name)
        if prop is None or name in seen:
            continue
        seen.add(name)
        kinds.add(prop.kind)
        if prop.kind == "computed_property":
            pending.extend(prop.depends_on)
    if "event_property" in kinds:
        return "active_day"
    if "sliding_window_property" in kinds:
        return "active_window"
    return "all"


def _aggregate_argument(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Anonymous):  # COUNTD(x)
        return node.expressions[0] if node.expressions else None
    this = node.this
    if isinstance(this, exp.Distinct):
        return this.expressions[0] if this.expressions else None
    if isinstance(this, exp.Star):
        return None
    return this


def _transform_outside_aggregates(tree: exp.Expression, replace) -> exp.Expression:
    """Apply ``replace`` top-down, never descending into a replaced aggregate."""
    replaced = replace(tree)
    if replaced is not tree:
        return replaced
    for key, value in list(tree.args.items()):
        if isinstance(value, exp.Expression):
            tree.set(key, _transform_outside_aggregates(value, replace))
        elif isinstance(value, list):
            tree.set(key, [_transform_outside_aggregates(v, replace) if isinstance(v, exp.Expression) else v for v in value])
    return tree


def _flatten_and(filters: tuple) -> list[exp.Expression]:
    out: list[exp.Expression] = []
    for predicate in filters:
        node = predicate.unnest() if isinstance(predicate, exp.Paren) else predicate
        if isinstance(node, exp.And):
            out.extend(_flatten_and((node.left, node.right)))
        else:
            out.append(node)
    unique: dict[str, exp.Expression] = {}
    for node in out:
        unique.setdefault(node.sql(), node)
    return list(unique.values())


def counter_equality(filters, aliases: dict[str, str]) -> tuple[str, int] | None:
    """(counter, N) when one conjunct of ``filters`` (marker trees of the accumulated
    wheres) is ``cohort_day = N`` or ``days_since_last_active = N`` with N >= 0: the rows
    the filters admit are then one day per registration (or per activity day) N days later."""
    for predicate in _flatten_and(tuple(filters)):
        equality = _simple_equality(predicate)
        if equality is not None:
            name = aliases.get(equality[0], equality[0])
            if name in (COHORT_DAY, DAYS_SINCE_LAST_ACTIVE) and equality[1] >= 0:
                return name, equality[1]
    return None


def _simple_equality(node: exp.Expression) -> tuple[str, int] | None:
    if not isinstance(node, exp.EQ):
        return None
    for column, literal in ((node.left, node.right), (node.right, node.left)):
        if (isinstance(column, exp.Column) and column.name.startswith("__p__")
                and isinstance(literal, exp.Literal) and not literal.is_string):
            try:
                return column.name[len("__p__"):], int(literal.this)
            except ValueError:
                return None
    return None


def axis_name(axis: str, aliases: dict[str, str]) -> str:
    """`date`/`cohort_day`; a registration date column name (`_date`) means `date`."""
    return "date" if aliases.get(axis) == "date" else axis


def resolve_kpis(files: ProjectFiles, entity: EntityConfig | None, props: dict[str, ResolvedProperty],
                 aliases: dict[str, str]) -> dict[str, ResolvedKpi]:
    expanded = expand_templates(files, entity)
    resolver = _KpiResolver(expanded, props, aliases, entity)
    kpis: dict[str, ResolvedKpi] = {}
    for kpi_id, item in expanded.items():
        unfolded = resolver.unfold(kpi_id, (kpi_id,))
        if unfolded is None:
            continue
        formula, aggregations = unfolded
        for agg in aggregations:
            agg.population = resolver.population(agg)
        kpi = item.kpi
        default_total = kpi.total_function or "sum"
        try:
            own_tree = parse_kpi_expression(item.select, aliases)
            kpi_refs = tuple(dict.fromkeys(referenced_names(own_tree, "__k__")))
            prop_refs = tuple(dict.fromkeys(referenced_names(own_tree, "__p__")))
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
            kpi_refs = prop_refs = ()
        kpis[kpi_id] = ResolvedKpi(
            id=kpi_id, label=item.label, select_text=item.select, formula=formula, aggregations=aggregations,
            x_axes={axis_name(axis, aliases): (body.total_function or default_total) for axis, body in kpi.x_axis.items()},
            where=item.where, description=item.description,
            unit_symbol=kpi.unit.symbol if kpi.unit else None,
            unit_is_prefix=kpi.unit.is_prefix if kpi.unit else False,
            total_function=default_total, template_id=item.template_id, template_value=item.template_value,
            kpi_refs=kpi_refs, property_refs=prop_refs, located=item.located,
        )
    return kpis


__all__ = ["resolve_kpis", "expand_templates", "template_values", "KPI_AGGREGATES", "marker_name"]
