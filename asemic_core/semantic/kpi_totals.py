"""Which total suits a KPI: ratios (ARPDAU, retention %, stickiness) and averages do not add
up over a week or a month, so their suggested total function is ``avg``; counts and sums keep
the default ``sum`` (SEMANTICS: total_function defaults to sum when the config says nothing).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from asemic_core.semantic.kpi_formula import aggregate_function_name, parse_kpi_expression

DIVISIONS = (exp.Div, exp.SafeDivide)


def _measured(node: exp.Expression) -> bool:
    """Holds an aggregate or a reference to another KPI (a per-point measure)."""
    if any(aggregate_function_name(n) for n in node.walk()):
        return True
    return any(col.name.startswith("__k__") for col in node.find_all(exp.Column))


def _inside_aggregate(node: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None:
        if aggregate_function_name(parent):
            return True
        parent = parent.parent
    return False


def _unscaled(node: exp.Expression) -> exp.Expression:
    """The formula without outer parentheses and constant factors (100 * ratio is a ratio)."""
    while True:
        if isinstance(node, exp.Paren):
            node = node.this
        elif isinstance(node, exp.Mul) and isinstance(node.this, exp.Literal):
            node = node.expression
        elif isinstance(node, exp.Mul) and isinstance(node.expression, exp.Literal):
            node = node.this
        else:
            return node


def is_ratio_like(select: str, ratio_kpis: frozenset[str] = frozenset()) -> bool:
    """A formula whose value per point is a ratio or an average: a division of two measures
    outside the aggregates, an AVG, or a reference to a ratio-like KPI (``ratio_kpis``)."""
    try:
        tree = parse_kpi_expression(select or "", {})
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
        return False
    if tree is None:
        return False
    core = _unscaled(tree)
    if aggregate_function_name(core) == "avg":
        return True
    if isinstance(core, exp.Column) and core.name.startswith("__k__") and core.name[5:] in ratio_kpis:
        return True
    for node in tree.find_all(*DIVISIONS):
        if _inside_aggregate(node):
            continue
        if _measured(node.this) and _measured(node.expression):
            return True
    return False


def suggested_total_function(select: str, ratio_kpis: frozenset[str] = frozenset()) -> str | None:
    """``avg`` for ratio-like formulas, None where the default (sum) fits."""
    return "avg" if is_ratio_like(select, ratio_kpis) else None


def sums_a_ratio(kpi, axis: str, grain: str, ratio_kpis: frozenset[str] = frozenset()) -> bool:
    """A ratio-like KPI whose buckets coarser than a day (or whose totals) add its daily ratios up."""
    return kpi.x_axes.get(axis) == "sum" and is_ratio_like(kpi.select_text, ratio_kpis)


def ratio_kpi_ids(kpis: dict) -> frozenset[str]:
    """Ids of the resolved KPIs that are ratio-like (references to them count as ratios)."""
    found: set[str] = set()
    for _ in range(3):  # references nest rarely deeper
        found |= {k for k, kpi in kpis.items() if is_ratio_like(kpi.select_text, frozenset(found))}
    return frozenset(found)
