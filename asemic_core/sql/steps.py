"""Computed properties that are step functions of days_since_last_active.

A computed property whose only input is days_since_last_active, and which uses it only
compared with number literals (``=``, ``<``, ``BETWEEN``, ``IN``, ``IS NULL``, also
through ``COALESCE(days_since_last_active, <number>)``), takes one value on each range of
days between those literals: ``IF({days_since_last_active} = 28, 1, 0)`` (the day a user
leaves a 28-day active base), ``COALESCE({days_since_last_active}, 9999) >= 7``. On a
user's days after an activity day, such a property changes only where the counter
crosses one of the ranges' bounds, so a reader can value whole runs of days at once
(sql/runs.py), as it does for recency windows.

The values are found by evaluating the expression at the bounds (and next to them), with
SQL's NULL logic, over the few node types the check admits.
"""

from __future__ import annotations

from dataclasses import dataclass
from sqlglot import exp

from asemic_core.config.models import DataType
from asemic_core.semantic.base_properties import DAYS_SINCE_LAST_ACTIVE
from asemic_core.semantic.graph import property_inputs
from asemic_core.semantic.model import ResolvedProject

COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_NUMBER_TYPES = (DataType.INTEGER, DataType.NUMBER, DataType.BOOLEAN)


class _NotAStep(Exception):
    pass


@dataclass(frozen=True)
class Steps:
    """A property's value by days_since_last_active d: ``values[i]`` while
    ``bounds[i - 1] < d <= bounds[i]`` (from d = 0), ``values[-1]`` past the last bound,
    ``missing`` while d is NULL (never active)."""

    bounds: tuple[int, ...]
    values: tuple
    missing: object

    def value_through(self, bound: int | None):
        """The value on the range ending at ``bound`` (None: past the last bound)."""
        if bound is None:
            return self.values[-1]
        for upper, value in zip(self.bounds, self.values):
            if bound <= upper:
                return value
        return self.values[-1]


def steps(project: ResolvedProject, name: str) -> Steps | None:
    """The step function ``name`` is of days_since_last_active, or None."""
    return _steps(project, project.property_aliases.get(name, name))


def _steps(project: ResolvedProject, name: str) -> Steps | None:
    from asemic_core.sql.model_sql import ModelQueryBuilder  # the computed expression, mappings included

    prop = project.properties.get(name)
    if prop is None or prop.kind != "computed_property" or prop.data_type not in _NUMBER_TYPES:
        return None
    if set(property_inputs(project, prop)) != {DAYS_SINCE_LAST_ACTIVE}:
        return None
    tree = ModelQueryBuilder(project).computed_expression(prop)
    try:
        literals = _compared_literals(tree)
        candidates = sorted({0, *[v for b in literals for v in (b - 1, b, b + 1) if v >= 0]})
        at = {d: _typed(_evaluate(tree, d), prop.data_type) for d in candidates}
        missing = _typed(_evaluate(tree, None), prop.data_type)
    except _NotAStep:
        return None
    bounds, values = [], []
    for d, following in zip(candidates, candidates[1:]):
        if at[d] != at[following]:
            bounds.append(d)
            values.append(at[d])
    values.append(at[candidates[-1]])
    return Steps(tuple(bounds), tuple(values), missing)


def _typed(value, data_type: DataType):
    if value is None:
        return None
    if data_type == DataType.BOOLEAN:
        return bool(value)
    if data_type == DataType.INTEGER:
        if isinstance(value, float) and not value.is_integer():
            raise _NotAStep
        return int(value)
    return float(value) if not isinstance(value, bool) else float(int(value))


def _is_counter(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return node.name == DAYS_SINCE_LAST_ACTIVE
    return (isinstance(node, exp.Coalesce) and _is_counter(node.this) and len(node.expressions) == 1
            and _number(node.expressions[0]) is not None)


def _number(node: exp.Expression) -> int | float | None:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Neg):
        inner = _number(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.this
        return int(text) if text.lstrip("-").isdigit() else float(text)
    return None


def _compared_literals(tree: exp.Expression) -> list[int]:
    """The whole numbers the counter is compared with; raises _NotAStep if the counter is
    used any other way (or compared with a fraction)."""
    found: list[int] = []

    def whole(node: exp.Expression) -> None:
        value = _number(node)
        if value is None or float(value) != int(value):
            raise _NotAStep
        found.append(int(value))

    for column in tree.find_all(exp.Column):
        node = column
        parent = node.parent
        while isinstance(parent, exp.Paren) or (isinstance(parent, exp.Coalesce) and _is_counter(parent)):
            if isinstance(parent, exp.Coalesce):
                whole(parent.expressions[0])
            node, parent = parent, parent.parent
        if isinstance(parent, COMPARISONS):
            whole(parent.expression if parent.this is node else parent.this)
        elif isinstance(parent, exp.Between) and parent.this is node:
            whole(parent.args["low"])
            whole(parent.args["high"])
        elif isinstance(parent, exp.In) and parent.this is node and not parent.args.get("query"):
            for item in parent.expressions:
                whole(item)
        elif isinstance(parent, exp.Is) and isinstance(parent.expression, exp.Null):
            continue
        else:
            raise _NotAStep
    return found


def _evaluate(node: exp.Expression, counter: int | None):
    """The value of ``node`` with the counter at ``counter`` (None: NULL), SQL's NULL logic."""
    def value(n: exp.Expression):
        return _evaluate(n, counter)

    if isinstance(node, exp.Paren):
        return value(node.this)
    if isinstance(node, exp.Column):
        return counter
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, (exp.Literal, exp.Neg)):
        number = _number(node)
        if number is None:
            return node.this  # a string
        return number
    if isinstance(node, exp.Coalesce):
        for part in (node.this, *node.expressions):
            found = value(part)
            if found is not None:
                return found
        return None
    if isinstance(node, COMPARISONS):
        left, right = value(node.this), value(node.expression)
        if left is None or right is None:
            return None
        return {exp.EQ: left == right, exp.NEQ: left != right, exp.GT: left > right, exp.GTE: left >= right,
                exp.LT: left < right, exp.LTE: left <= right}[type(node)]
    if isinstance(node, exp.Between):
        this, low, high = value(node.this), value(node.args["low"]), value(node.args["high"])
        return None if None in (this, low, high) else low <= this <= high
    if isinstance(node, exp.In):
        this = value(node.this)
        items = [value(i) for i in node.expressions]
        if this is None:
            return None
        return True if this in items else (None if None in items else False)
    if isinstance(node, exp.Is):
        return value(node.this) is None
    if isinstance(node, exp.Not):
        inner = value(node.this)
        return None if inner is None else not inner
    if isinstance(node, exp.And):
        left, right = value(node.this), value(node.expression)
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    if isinstance(node, exp.Or):
        left, right = value(node.this), value(node.expression)
        if left is True or right is True:
            return True
        return None if left is None or right is None else False
    if isinstance(node, exp.If):
        return value(node.args["true"]) if value(node.this) is True else value(node.args.get("false") or exp.Null())
    if isinstance(node, exp.Case):
        for branch in node.args.get("ifs") or []:
            if value(branch.this) is True:
                return value(branch.args["true"])
        default = node.args.get("default")
        return value(default) if default is not None else None
    raise _NotAStep
