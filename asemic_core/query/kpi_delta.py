"""KPI points by the delta method: sums over runs of days instead of over expanded days.

A date-axis KPI over every registered user (or over the days within active_days of the
last activity) sees, on the days between two stored rows of a user, values that do not
change (sql/runs.py ``spans``) as long as it reads no day counter. Such a KPI is a
formula of sums and counts; each of them, per day, is the sum of its per-run values over
the runs covering that day: +value on the run's first day, -value the day after its last
day, and a running total over the days of the range. The cost follows the stored rows of
the range, not users x days.

Used for SUM, COUNT and AVG of whole numbers (their running totals are exact); MIN, MAX,
COUNT(DISTINCT) and fractional sums keep the expanded path (``applicable`` says no).

The same sums give the points of signed rows (``signed_aggregated``): rows that count
+1 or -1 each, of one day or cohort day (expansion.cohort_day_from_registration and
cohort_days_from_registration with ``signed``).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlglot import exp

from asemic_core.config.models import DataType
from asemic_core.query.filters import filter_condition, literal
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.expansion import SIGN
from asemic_core.sql.runs import END, START, gap_constant, plus_days
from asemic_core.sql.sources import cte_name, join, named, quoted

WHOLE = (DataType.INTEGER,)
RUNS = "__runs"


class NotSummable(Exception):
    """The formula holds an aggregation a running total cannot give exactly."""


def applicable(project: ResolvedProject, rows: str, rules: frozenset[str], direct: frozenset[str],
               filters: list, by: list[str]) -> bool:
    """Whether a KPI reading ``rows`` ("all" or "recent") can be summed over runs: every
    property it names (formula, wheres, filters, group-by) keeps its value on gap days, and
    the population rules' day counter condition is constant on each run ("recent": runs end
    with the population; "all": only the active-day rule, false on every gap day)."""
    if rows == "recent":
        allowed = {"active_day", "active_window", "recent"}
    elif rows == "all":
        allowed = {"all", "active_day"}
    else:
        return False
    if not rules <= allowed:
        return False
    names = set(direct) | {f.property for f in filters} | set(by)
    return all(gap_constant(project, name) for name in names)


def _whole(project: ResolvedProject, node: exp.Expression) -> bool:
    if not isinstance(node, exp.Column):
        return False
    prop = project.properties.get(node.name)
    return prop is not None and prop.data_type in WHOLE


class _Sums:
    """The per-run values to total, by their SQL (one column each)."""

    def __init__(self, project: ResolvedProject) -> None:
        self.project = project
        self.columns: dict[str, tuple[str, exp.Expression]] = {}

    def add(self, value: exp.Expression) -> exp.Expression:
        key = value.sql()
        if key not in self.columns:
            self.columns[key] = (f"__s{len(self.columns)}", value)
        return quoted(self.columns[key][0])

    def aggregate(self, aggregate: exp.Expression, condition: exp.Expression) -> exp.Expression:
        """The running-total form of ``aggregate`` FILTER (WHERE ``condition``)."""
        zero, one = exp.Literal.number(0), exp.Literal.number(1)

        def when(test: exp.Expression, then: exp.Expression) -> exp.Expression:
            return exp.Case(ifs=[exp.If(this=test, true=then)], default=zero.copy())

        argument = aggregate.this
        if isinstance(argument, exp.Distinct):
            raise NotSummable("distinct")
        if isinstance(aggregate, exp.Count):
            if isinstance(argument, exp.Star):
                return self.add(when(condition, one))
            return self.add(when(exp.and_(condition.copy(), exp.Not(this=exp.Is(this=argument.copy(), expression=exp.Null()))), one))
        if isinstance(aggregate, (exp.Sum, exp.Avg)) and _whole(self.project, argument):
            present = exp.and_(condition.copy(), exp.Not(this=exp.Is(this=argument.copy(), expression=exp.Null())))
            total = self.add(when(present.copy(), argument.copy()))
            count = self.add(when(present, one))
            none = exp.EQ(this=count.copy(), expression=zero.copy())
            result = total if isinstance(aggregate, exp.Sum) else exp.Div(this=total, expression=count)
            return exp.Case(ifs=[exp.If(this=none, true=exp.Null())], default=result)
        raise NotSummable(type(aggregate).__name__)

    def rewrite(self, tree: exp.Expression) -> exp.Expression:
        """``tree`` with each aggregation replaced by its running total's column."""
        if isinstance(tree, exp.Filter) and isinstance(tree.this, exp.AggFunc):
            return self.aggregate(tree.this, tree.expression.this)
        if isinstance(tree, exp.AggFunc):
            return self.aggregate(tree, exp.true())
        if isinstance(tree, (exp.Window, exp.Subquery, exp.Select)):
            raise NotSummable(type(tree).__name__)
        tree = tree.copy()
        for key, value in list(tree.args.items()):
            if isinstance(value, exp.Expression):
                tree.set(key, self.rewrite(value))
            elif isinstance(value, list):
                tree.set(key, [self.rewrite(v) if isinstance(v, exp.Expression) else v for v in value])
        return tree


class Summed(NamedTuple):
    """A KPI's aggregations as sums of per-row values (``summed``): the sums' columns (name,
    per-row value), the formula and the contributing-rows count over those columns, and the
    column counting the rows (none: no point). Shared: users copy what they embed."""
    columns: tuple[tuple[str, exp.Expression], ...]
    formula: exp.Expression
    rows: exp.Expression
    everything: str


def summed(project: ResolvedProject, value: exp.Expression, contributing: exp.Expression) -> Summed:
    """``value`` and ``contributing`` (trees left as they are) as sums of per-row values.
    Raises NotSummable when an aggregation has no exact sum (MIN, MAX, COUNT(DISTINCT),
    fractional sums)."""
    sums = _Sums(project)
    everything = sums.add(exp.Literal.number(1))  # the rows of the (axis value, group): none -> no point
    formula = sums.rewrite(value)
    rows = sums.rewrite(contributing)
    return Summed(tuple(sums.columns.values()), formula, rows, everything.name)


def delta_aggregated(project: ResolvedProject, runs: exp.Expression, sums: Summed, filters: list, by: list[str],
                     date_from: dt.date, date_to: dt.date, materialize: bool = False,
                     runs_defined: bool = True) -> exp.Select:
    """(date, group-by columns, value, __rows) for every day of the range and group, from
    ``runs`` (``spans``: entity_id, __start, __end, the columns and __sign) and the KPI's
    ``sums``: the same rows the expanded query's aggregation gives, where a day with no row
    has value NULL.

    ``materialize``: the runs are computed once for their three uses (DuckDB).
    ``runs_defined=False``: the caller defines RUNS once for several of these."""
    everything, formula, rows = quoted(sums.everything), sums.formula.copy(), sums.rows.copy()
    conditions = [filter_condition(f, "m") for f in filters]
    groups = [quoted(b, "m") for b in by]

    def events(day: exp.Expression, sign: int, last_day_only: bool) -> exp.Select:
        # a run's values count with its sign (a run taking back part of another: -1)
        signed = [exp.alias_(exp.Mul(this=exp.Paren(this=expression.copy()), expression=quoted(SIGN, "m")) if sign > 0
                             else exp.Neg(this=exp.Paren(this=exp.Mul(this=exp.Paren(this=expression.copy()),
                                                                         expression=quoted(SIGN, "m")))),
                             name, quoted=True, copy=False) for name, expression in sums.columns]
        select = exp.select(exp.alias_(day, "date", quoted=True), *[exp.alias_(g.copy(), b, quoted=True, copy=False)
                                                                     for g, b in zip(groups, by)], *signed).from_(
            exp.alias_(named(RUNS), "m", table=True, copy=False), copy=False)
        wheres = [c.copy() for c in conditions]
        if last_day_only:
            wheres.append(exp.LT(this=quoted(END, "m"), expression=literal(date_to)))
        return select.where(exp.and_(*wheres, copy=False), copy=False) if wheres else select

    starts = events(quoted(START, "m"), +1, False)
    ends = events(plus_days(quoted(END, "m"), 1), -1, True)
    keys = ["date", *by]
    deltas = exp.select(*[quoted(k) for k in keys], *[exp.alias_(exp.Sum(this=quoted(name)), name, quoted=True)
                                                       for name, _ in sums.columns]).from_(
        exp.alias_(exp.Subquery(this=exp.union(starts, ends, distinct=False, copy=False)), "e", table=True, copy=False),
        copy=False).group_by(*[exp.Literal.number(i + 1) for i in range(len(keys))], copy=False)
    series = exp.func("generate_series", literal(date_from), literal(date_to),
                      exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY")))
    grid = exp.select(exp.alias_(exp.cast(exp.Unnest(expressions=[series]), "DATE"), "date", quoted=True))
    if by:
        listed = exp.select(*[exp.alias_(g.copy(), b, quoted=True, copy=False) for g, b in zip(groups, by)]).distinct().from_(
            exp.alias_(named(RUNS), "m", table=True, copy=False))
        listed = listed.where(exp.and_(*[c.copy() for c in conditions])) if conditions else listed
        grid = join(exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=grid), "d", table=True, copy=False), copy=False),
                    exp.alias_(exp.Subquery(this=listed), "g", table=True, copy=False), kind="CROSS")
    order = exp.Order(expressions=[exp.Ordered(this=quoted("date", "grid"))])
    frame = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
    totals = exp.select(*[quoted(k, "grid") for k in keys], *[
        exp.alias_(exp.Window(this=exp.Sum(this=exp.Coalesce(this=quoted(name, "dl"), expressions=[exp.Literal.number(0)])),
                              partition_by=[quoted(b, "grid") for b in by] or None, order=order.copy(), spec=frame.copy()),
                   name, quoted=True)
        for name, _ in sums.columns]).from_(exp.alias_(exp.Subquery(this=grid), "grid", table=True, copy=False),
                                                     copy=False)
    totals = join(totals, exp.alias_(exp.Subquery(this=deltas), "dl", table=True, copy=False), side="LEFT",
                  on=exp.and_(*[exp.NullSafeEQ(this=quoted(k, "grid"), expression=quoted(k, "dl")) for k in keys], copy=False))
    none = exp.EQ(this=everything, expression=exp.Literal.number(0))
    result = exp.select(*[quoted(k) for k in keys],
                        exp.alias_(exp.Case(ifs=[exp.If(this=none, true=exp.Null())], default=formula), "value", quoted=True,
                                   copy=False),
                        exp.alias_(rows, "__rows", quoted=True, copy=False)).from_(
        exp.alias_(exp.Subquery(this=totals), "t", table=True, copy=False), copy=False)
    return result.with_(cte_name(RUNS), as_=runs, materialized=materialize or None, copy=False) if runs_defined else result


SIGNED = "__signed"


def signed_aggregated(signed: exp.Expression, sums: Summed, axis: str, conditions: list[exp.Expression],
                      by: list[str], defined: bool = True, part: str | None = None) -> exp.Select:
    """(axis, group-by columns, value, __rows) from rows that each count with their sign
    (``SIGN``; expansion.cohort_day_from_registration and cohort_days_from_registration
    with ``signed``), aliased "m" in ``conditions`` (filters, the axis's range): each sum or
    count is the signed sum of its per-row values, so the points are those of the rows the
    signs leave (``sums``: the KPI's, ``summed``).

    ``defined=False``: the caller defines SIGNED once for several of these. ``part`` (with
    ``by``): the grouped points and the ungrouped series in one aggregation (GROUPING
    SETS), told apart by the column ``part`` (GROUPING of the group-by columns: 0 on a
    grouped row, 2^k - 1 on the series')."""
    everything, formula, rows = quoted(sums.everything), sums.formula.copy(), sums.rows.copy()
    keys = [quoted(axis, "m"), *[quoted(b, "m") for b in by]]
    sets = part is not None and by
    flag = [exp.alias_(exp.func("GROUPING", *[quoted(b, "m") for b in by]), part, quoted=True)] if sets else []
    grouping = [exp.GroupingSets(expressions=[exp.Tuple(expressions=[k.copy() for k in keys]),
                                              exp.Tuple(expressions=[keys[0].copy()])])] if sets else \
        [exp.Literal.number(i + 1) for i in range(len(keys))]
    totals = exp.select(*[exp.alias_(k, name, quoted=True, copy=False) for k, name in zip(keys, [axis, *by])], *flag,
                        *[exp.alias_(exp.Sum(this=exp.Mul(this=exp.Paren(this=expression.copy()), expression=quoted(SIGN, "m"))),
                                     name, quoted=True, copy=False) for name, expression in sums.columns]).from_(
        exp.alias_(named(SIGNED), "m", table=True, copy=False), copy=False).where(
        exp.and_(*conditions, copy=False), copy=False).group_by(*grouping, copy=False)
    none = exp.EQ(this=everything, expression=exp.Literal.number(0))
    result = exp.select(quoted(axis), *[quoted(b) for b in by], *([quoted(part)] if sets else []),
                        exp.alias_(exp.Case(ifs=[exp.If(this=none, true=exp.Null())], default=formula), "value", quoted=True,
                                   copy=False),
                        exp.alias_(rows, "__rows", quoted=True, copy=False)).from_(
        exp.alias_(exp.Subquery(this=totals), "t", table=True, copy=False), copy=False)
    return result.with_(cte_name(SIGNED), as_=signed, copy=False) if defined else result
