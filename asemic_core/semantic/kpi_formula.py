"""Parsing KPI formulas into sqlglot trees with marked references.

``{property.x}`` becomes the column ``__p__x`` and ``{kpi.k}`` the column ``__k__k``, so
that the formula can be split into aggregations and unfolded as a tree.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from asemic_core.semantic.placeholders import PLACEHOLDER_RE, match_parts

KPI_AGGREGATES = ("sum", "avg", "count", "count_distinct", "min", "max")

_AGG_NAMES: dict[type, str] = {exp.Sum: "sum", exp.Avg: "avg", exp.Count: "count", exp.Min: "min", exp.Max: "max"}


def marker_name(namespace: str | None, name: str, aliases: dict[str, str]) -> str:
    if namespace == "kpi":
        return f"__k__{name}"
    return f"__p__{aliases.get(name, name)}"


def mark_placeholders(text: str, aliases: dict[str, str]) -> str:
    def sub(match) -> str:
        first, second = match_parts(match)
        if second is None:
            return marker_name(None, first, aliases)
        return marker_name(first if first in {"kpi", "property"} else None, second if first in {"kpi", "property"} else f"{first}.{second}", aliases)

    return PLACEHOLDER_RE.sub(sub, text)


def parse_kpi_expression(text: str, aliases: dict[str, str]) -> exp.Expression:
    marked = mark_placeholders(text, aliases)
    if ";" in marked:
        raise ValueError("a KPI expression cannot contain ';'")
    return sqlglot.parse_one(marked, read="bigquery")


def aggregate_function_name(node: exp.Expression) -> str | None:
    """The KPI aggregation a node is, or the name of another aggregate, else None."""
    if isinstance(node, exp.Anonymous) and str(node.this).upper() == "COUNTD":
        return "count_distinct"
    if isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct):
        return "count_distinct"
    for cls, name in _AGG_NAMES.items():
        if type(node) is cls:
            return name
    if isinstance(node, exp.AggFunc):
        return node.sql_name().lower() if hasattr(node, "sql_name") else type(node).__name__.lower()
    return None


def referenced_names(tree: exp.Expression | None, prefix: str) -> list[str]:
    if tree is None:
        return []
    return [col.name[len(prefix):] for col in tree.find_all(exp.Column) if col.name.startswith(prefix)]
