"""KPI queries (SEMANTICS 6): date or cohort axis, grains, group-by, filters, totals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import polars as pl
from sqlglot import exp

from asemic_core.collector import keep_for_life, release
from asemic_core.errors import AsemicError
from asemic_core.query.filters import Filter, filter_condition, literal
from asemic_core.query.kpi_delta import (RUNS, SIGNED, NotSummable, Summed, applicable, delta_aggregated,
                                         signed_aggregated, summed)
from asemic_core.query.model_source import CounterDays, ModelSource
from asemic_core.semantic.activity import activity_columns
from asemic_core.semantic.kpi_formula import parse_kpi_expression
from asemic_core.semantic.model import ResolvedKpi, ResolvedProject
from asemic_core.semantic.base_properties import DAYS_SINCE_LAST_ACTIVE, ENTITY_ID, LAST_ACTIVITY_DATE
from asemic_core.semantic.resolve_kpis import counter_equality, population_of
from asemic_core.sql.expressions import find_aggregates, parse_expression, placeholders_in, to_tree
from asemic_core.sql.render import ENGINE_DIALECT, render_once
from asemic_core.sql.expansion import needed_columns
from asemic_core.sql.runs import every_day_columns
from asemic_core.sql.sources import cte_name, join, named, quoted

GRAINS = ("day", "week", "month", "quarter", "year")
AXES = ("date", "cohort_day")


@dataclass
class KpiRequest:
    kpi: str
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    x_axis: str = "date"
    grain: str = "day"
    by: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)


@dataclass
class KpiResult:
    request: KpiRequest
    kpi: ResolvedKpi
    points: pl.DataFrame  # axis column, one column per group-by property, value
    totals: pl.DataFrame  # one row per group (group-by columns, total); one row when ungrouped
    total: int | float | None  # over the whole range, ungrouped
    sql: str
    date_from: dt.date
    date_to: dt.date
    adhoc_columns: list[str]

    def to_dict(self) -> dict:
        return {
            "kpi": self.kpi.id, "label": self.kpi.label, "x_axis": self.request.x_axis, "grain": self.request.grain,
            "from": self.date_from.isoformat(), "to": self.date_to.isoformat(), "by": self.request.by,
            "filters": [f.describe() for f in self.request.filters],
            "unit": {"symbol": self.kpi.unit_symbol, "is_prefix": self.kpi.unit_is_prefix} if self.kpi.unit_symbol else None,
            "points": self.points.to_dicts(), "totals": self.totals.to_dicts(), "total": self.total,
        }


class KpiQueryBuilder:
    def __init__(self, project: ResolvedProject, dialect: str = ENGINE_DIALECT) -> None:
        self.project = project
        self.dialect = dialect
        self.used: set[str] = set()
        self.conditions: list[exp.Expression] = []
        self.contributing: exp.Expression = exp.Count(this=exp.Star())  # rows some aggregation sees
        self.rules: set[str] = set()  # the populations of the aggregations (semantic.resolve_kpis)
        self.counters: set[tuple[str, int] | None] = set()  # each aggregation's counter = N filter, if any
        self.direct: set[str] = set()  # properties the formula and wheres name (not the population rules)

    def _column(self, name: str) -> exp.Expression:
        prop = self.project.get_property(name)
        if prop is None or prop.hidden:
            raise AsemicError(f"unknown property {name!r}")
        self.used.add(prop.id)
        self.direct.add(prop.id)
        return quoted(prop.id, "m")

    def _where_tree(self, text: str) -> exp.Expression:
        parsed = parse_expression(text, allow_aggregates=False, namespaces={"property"})
        return to_tree(parsed, lambda _ns, name: self._column(name), dialect=self.dialect)

    def formula(self, kpi_id: str, axis: str, outer: tuple[str, ...] = (), depth: int = 0) -> exp.Expression:
        """The KPI's select with every aggregate restricted to its rows."""
        if depth > 50:
            raise AsemicError(f"KPI {kpi_id!r}: references nest too deeply (a cycle?)")
        kpi = self.project.kpis.get(kpi_id)
        if kpi is None:
            raise AsemicError(f"unknown KPI {kpi_id!r}")
        wheres = outer + ((kpi.where,) if kpi.where else ())
        parsed = parse_expression(kpi.select_text, allow_aggregates=True)
        aggregates = find_aggregates(parsed)
        used = [[p.name for p in placeholders_in(parsed, node) if p.namespace == "property"] for node in aggregates]
        for names in used:
            for name in names:
                self._column(name)

        def resolve(namespace: str | None, name: str) -> exp.Expression:
            if namespace == "kpi":
                return self.formula(name, axis, wheres, depth + 1)
            return self._column(name)

        def restrict(index: int, aggregate: exp.Expression) -> exp.Expression:
            conditions = [self._where_tree(w) for w in wheres]
            conditions.append(self._population(used[index], wheres, axis))
            condition = exp.and_(*conditions)
            self.conditions.append(condition.copy())
            return exp.Filter(this=aggregate, expression=exp.Where(this=condition))

        return to_tree(parsed, resolve, dialect=self.dialect, on_aggregate=restrict)

    def value(self, kpi_id: str, axis: str) -> exp.Expression:
        """The KPI's value per point: NULL where none of its aggregations sees a row."""
        self.conditions = []
        formula = self.formula(kpi_id, axis)
        if not self.conditions:
            self.contributing = exp.Count(this=exp.Star())
            return formula
        self.contributing = exp.Filter(this=exp.Count(this=exp.Star()),
                                       expression=exp.Where(this=exp.or_(*self.conditions)))
        return exp.Case(ifs=[exp.If(this=exp.EQ(this=self.contributing.copy(), expression=exp.Literal.number(0)),
                                    true=exp.Null())], default=formula)

    def _population(self, properties: list[str], wheres: tuple[str, ...], axis: str) -> exp.Expression:
        entity = self.project.entity
        if axis == "cohort_day":
            days = entity.cohorted_daily_kpis_days if entity else [0]
            return exp.In(this=quoted("cohort_day", "m"), expressions=[exp.Literal.number(d) for d in days])
        filters = [parse_kpi_expression(w, self.project.property_aliases) for w in wheres]
        self.counters.add(counter_equality(filters, self.project.property_aliases))
        rule = population_of(tuple(properties), filters, self.project.properties, self.project.property_aliases, entity)
        self.rules.add(rule)
        dsla = quoted(DAYS_SINCE_LAST_ACTIVE, "m")
        self.used.add(DAYS_SINCE_LAST_ACTIVE)
        active_days = exp.Literal.number(entity.active_days if entity else 0)
        match rule:
            case "active_day":
                return exp.EQ(this=dsla, expression=exp.Literal.number(0))
            case "active_window" | "recent":
                return exp.LTE(this=dsla, expression=active_days)
            case _:
                return exp.true()


# Parsed and resolved KPI formulas, keyed by the config they were built from: a query
# only copies the tree (formulas and filters are not parsed again on every call).
class Compiled(NamedTuple):
    value: exp.Expression  # per point, NULL where no aggregation sees a row
    used: frozenset[str]  # properties read
    contributing: exp.Expression  # rows some aggregation sees
    rules: frozenset[str]  # the aggregations' populations
    counters: frozenset  # each aggregation's counter = N filter (or None)
    direct: frozenset[str]  # properties the formula and wheres name (the population rules aside)


_COMPILED: dict[tuple, Compiled] = {}
_COMPILED_MAX = 512
_SUMMED: dict[tuple, "Summed | None"] = {}  # per key of _COMPILED, cleared with it


def config_key(project: ResolvedProject) -> str:
    """A digest of what KPI trees depend on: KPIs, property definitions, aliases, entity."""
    key = getattr(project, "_kpi_config_key", None)
    if key is None:
        import hashlib
        import json

        from asemic_core.semantic.hashing import definition_hashes

        entity = project.entity
        payload = {
            "kpis": {k.id: [k.select_text, k.where, sorted(k.x_axes.items())] for k in project.kpis.values()},
            "properties": definition_hashes(project),
            "flags": {p.id: [p.kind, p.hidden, p.data_type.value] for p in project.properties.values()},
            "aliases": sorted(project.property_aliases.items()),
            "entity": [entity.active_days, list(entity.cohorted_daily_kpis_days)] if entity else None,
        }
        key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        project._kpi_config_key = key
    return key


def compiled_value(project: ResolvedProject, kpi_id: str, axis: str) -> tuple[exp.Expression, set[str], exp.Expression]:
    """(value per point, properties used, contributing-rows count) of a KPI: built once per
    config; the trees are the caller's own copies."""
    found = _compiled(project, kpi_id, axis)
    return found.value.copy(), set(found.used), found.contributing.copy()


def _summed(project: ResolvedProject, kpi_id: str, axis: str) -> Summed | None:
    """The KPI's aggregations as sums of per-row values (kpi_delta ``summed``), built once
    per config; None when one has no exact sum."""
    key = (config_key(project), kpi_id, axis)
    if key not in _SUMMED:
        found = _compiled(project, kpi_id, axis)
        try:
            _SUMMED[key] = summed(project, found.value, found.contributing)
        except NotSummable:
            _SUMMED[key] = None
    return _SUMMED[key]


def _compiled(project: ResolvedProject, kpi_id: str, axis: str) -> Compiled:
    """The KPI's compiled form, cached per config (its trees are shared: not to be changed)."""
    key = (config_key(project), kpi_id, axis)
    found = _COMPILED.get(key)
    if found is None:
        builder = KpiQueryBuilder(project)
        value = builder.value(kpi_id, axis)
        found = Compiled(value, frozenset(builder.used), builder.contributing, frozenset(builder.rules),
                         frozenset(builder.counters), frozenset(builder.direct))
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
            _SUMMED.clear()
            release()
        _COMPILED[key] = found
        keep_for_life()
    return found


def rows_read(project: ResolvedProject, kpi_id: str, axis: str) -> str | CounterDays:
    """Which rows the KPI's aggregations see, as the source can serve them: "active" (only
    days a user was active: stored rows, nothing derived), a ``CounterDays`` (every
    aggregation filters on one ``cohort_day = N`` or ``days_since_last_active = N``, N
    within active_days: one day per registration or activity day), "recent" (days within
    active_days of the last activity), "cohort" (the cohort axis: only the cohorted days
    of each user) or "all"."""
    if axis == "cohort_day":
        return "cohort"  # every aggregation sees cohort_day IN cohorted_daily_kpis_days
    found = _compiled(project, kpi_id, axis)
    rules, counters = found.rules, found.counters
    if not rules:
        return "all"
    if rules == {"active_day"}:
        return "active"
    entity = project.entity
    if len(counters) == 1 and None not in counters and entity is not None:
        counter, n = next(iter(counters))
        if n <= entity.active_days:  # the plan reads stored rows from active_days before the range
            return CounterDays(counter, n)
    return "recent" if rules <= {"active_day", "active_window", "recent"} else "all"


def _grain_bucket(grain: str) -> exp.Expression:
    return exp.cast(exp.func("date_trunc", exp.Literal.string(grain), quoted("date")), "DATE")


def _total_aggregate(function: str, column: exp.Expression) -> exp.Expression:
    return {"sum": exp.Sum, "avg": exp.Avg, "count": exp.Count, "min": exp.Min, "max": exp.Max}[function](this=column)


def run_kpi_query(source: ModelSource, request: KpiRequest) -> KpiResult:
    project = source.resolved
    kpi = project.kpis.get(request.kpi)
    if kpi is None:
        known = ", ".join(sorted(project.kpis)[:20])
        raise AsemicError(f"unknown KPI {request.kpi!r} (known: {known}{', ...' if len(project.kpis) > 20 else ''})")
    if request.x_axis not in AXES:
        raise AsemicError(f"unknown x axis {request.x_axis!r}: use date or cohort_day")
    if request.x_axis not in kpi.x_axes:
        raise AsemicError(f"KPI {kpi.id!r} has no {request.x_axis} axis (it has: {', '.join(kpi.x_axes)})")
    if request.grain not in GRAINS:
        raise AsemicError(f"unknown grain {request.grain!r}: use {', '.join(GRAINS)}")
    if request.x_axis == "cohort_day" and request.grain != "day":
        raise AsemicError("the cohort_day axis has no grain; leave --grain at day")
    if request.date_from and request.date_to and request.date_from > request.date_to:
        raise AsemicError(f"--from {request.date_from} is after --to {request.date_to}")
    by = []
    for name in request.by:
        prop = project.get_property(name)
        if prop is None or prop.hidden:
            raise AsemicError(f"cannot group by {name!r}: unknown property")
        if not prop.can_group_by and not prop.is_base:
            raise AsemicError(f"cannot group by {name!r}: the property has can_group_by: false")
        by.append(prop.id)

    value, used, contributing = compiled_value(project, kpi.id, request.x_axis)
    for flt in request.filters:
        used.add(flt.property)
    used.update(by)
    if request.x_axis == "cohort_day":
        used.update({"cohort_day", "registration_date"})
    total_function = kpi.x_axes[request.x_axis]
    adhoc: list[str] = []

    ranges: list[dt.date] = []

    def statements() -> list[str]:
        """Points (grouped as asked) and, for a grouped query, the ungrouped series: one plan."""
        plan = source.plan(sorted(used), None if request.x_axis == "cohort_day" else request.date_from,
                           None if request.x_axis == "cohort_day" else request.date_to)
        adhoc[:] = plan.adhoc
        # The requested range is the axis; days the model does not hold give NULL points.
        date_from = request.date_from or plan.day_from
        date_to = request.date_to or plan.day_to
        ranges[:] = [date_from, date_to]
        registered = (request.date_from, request.date_to) if request.x_axis == "cohort_day" else None
        rows = rows_read(project, kpi.id, request.x_axis)
        if isinstance(rows, CounterDays) and not _reads_since(project, kpi.id, request, by):
            rows = replace(rows, population_only=True)
        groupings = [by, []] if by else [by]
        sums = _summed(project, kpi.id, request.x_axis)  # None: no exact sums (runs and signed rows need them)
        runs = _runs(source, plan, kpi.id, request, rows, by) if sums is not None else None
        if runs is not None:
            duckdb = source.reads_with_duckdb()
            points = [_points_query(project, None, value, request, grouping, date_from, date_to, total_function,
                                    contributing, delta_aggregated(project, runs if index == 0 else runs.copy(), sums,
                                                                   request.filters, grouping, date_from, date_to, duckdb,
                                                                   runs_defined=not (by and duckdb)))
                      for index, grouping in enumerate(groupings)]
            if by and duckdb:  # both parts from one computation of the runs
                both = _stacked("date", by, *points).with_(cte_name(RUNS), as_=runs, materialized=True, copy=False)
                return [render_once(both, source.executor.dialect)]
            return [render_once(query, source.executor.dialect) for query in points]
        signed = _signed_rows(source, plan, kpi.id, request, rows, by, registered) if sums is not None else None
        if signed is not None:  # sums of signed rows: no user matched with another row of its own
            _axis, axis_name, conditions = _axis_and_conditions(request, date_from, date_to, "m")
            if by and source.reads_with_duckdb():  # both parts from one aggregation of the rows
                every = signed_aggregated(signed, sums, axis_name, conditions, by, part=PART)
                return [render_once(_both_parts(project, every, value, request, by, date_from, date_to, total_function,
                                                contributing), source.executor.dialect)]
            points = [_points_query(project, None, value, request, grouping, date_from, date_to, total_function,
                                    contributing, signed_aggregated(signed if index == 0 else signed.copy(), sums, axis_name,
                                                                    [c.copy() for c in conditions], grouping))
                      for index, grouping in enumerate(groupings)]
            return [render_once(query, source.executor.dialect) for query in points]
        relation = source.relation(plan, rows=rows, registered=registered)
        if by and source.reads_with_duckdb():
            return [render_once(_grouped_and_total(project, relation, value, request, by, date_from, date_to,
                                              total_function, contributing), source.executor.dialect)]
        return [render_once(_points_query(project, relation if index == 0 else relation.copy(),
                                          value if index == 0 else value.copy(), request, grouping,
                                          date_from, date_to, total_function, contributing), source.executor.dialect)
                for index, grouping in enumerate(groupings)]

    frames, sqls = source.run_many(statements)
    if len(frames) == 1 and PART in frames[0].columns:  # the grouped points and the total series, one statement
        both = frames[0]
        frames = [both.filter(pl.col(PART) == 0).drop(PART),
                  both.filter(pl.col(PART) == 1).select([c for c in both.columns if c not in (PART, *by)])]
    frames = [numeric_values(frame) for frame in frames]
    points, sql = frames[0], sqls[0]
    date_from, date_to = ranges
    axis = request.x_axis
    points = points.sort([axis, *by], nulls_last=True)
    if by:
        totals = points.group_by(by, maintain_order=True).agg(_polars_total(total_function).alias("total"))
        total = frames[1].select(_polars_total(total_function)).item()
    else:
        totals = points.select(_polars_total(total_function).alias("total"))
        total = totals.item() if totals.height else None
    return KpiResult(request, kpi, points, totals, total, sql, date_from, date_to, list(adhoc))


def _reads_since(project: ResolvedProject, kpi_id: str, request: KpiRequest, by: list[str]) -> bool:
    """Whether the KPI reads days_since_last_active (or last_activity_date) other than in its
    population conditions: in its formula or wheres (through computed properties too), a
    filter or the group-by."""
    found = _compiled(project, kpi_id, request.x_axis)
    read = [c for c in {*found.direct, *(f.property for f in request.filters), *by} if c != ENTITY_ID]
    return bool({DAYS_SINCE_LAST_ACTIVE, LAST_ACTIVITY_DATE} & set(needed_columns(project, read)))


def _signed_rows(source: ModelSource, plan, kpi_id: str, request: KpiRequest, rows, by: list[str],
                 registered) -> exp.Expression | None:
    """The signed rows a KPI with exact sums (``_summed``) is summed over
    (``ModelSource.signed_counter_relation``: the days where cohort_day = n on the date
    axis; ``signed_cohort_relation``: the cohort axis), when it reads no entity_id; None:
    read the rows themselves."""
    counter_days = request.x_axis == "date" and isinstance(rows, CounterDays) and rows.population_only
    if not (counter_days or rows == "cohort") or plan.adhoc:
        return None
    found = _compiled(source.resolved, kpi_id, request.x_axis)
    if ENTITY_ID in {*found.direct, *(f.property for f in request.filters), *by}:
        return None
    if counter_days:
        return source.signed_counter_relation(plan, rows)
    return source.signed_cohort_relation(plan, registered)


def _runs(source: ModelSource, plan, kpi_id: str, request: KpiRequest, rows, by: list[str]) -> exp.Expression | None:
    """The runs of days (``spans``) a KPI over "all" or "recent" rows is summed over, when
    its values do not change on gap days (``kpi_delta.applicable``); None: expand the days."""
    if request.x_axis != "date" or plan.adhoc or plan.snapshot is None or not isinstance(rows, str):
        return None
    project = source.resolved
    found = _compiled(project, kpi_id, request.x_axis)
    read = {*found.direct, *(f.property for f in request.filters), *by}
    users = ENTITY_ID in read
    # days_since_last_active itself only as the active-day rule reads it (0 on an own day,
    # above 0 on every gap day): a run holds its value on its first day only
    if rows == "all" and found.rules <= {"all", "active_day"} and DAYS_SINCE_LAST_ACTIVE not in read:
        # every registered day from the activity part, when each column follows from the
        # activity days or steps with the days since the last one (mau_lost, is_churned)
        # a KPI reading the date itself is not summed over runs (entity_id: runs keep users apart)
        columns = every_day_columns(project, [*plan.stored, *(c for c in read if c != ENTITY_ID)])
        runs = source.every_day_runs(plan, *columns, users=users) if columns is not None else None
        if runs is not None:
            return runs
    if not applicable(project, rows, found.rules, found.direct, request.filters, by):
        return None
    recency = activity_columns(project, plan.stored) if rows == "recent" else None
    return source.runs(plan, recent=rows == "recent", recency=recency, users=users)


def numeric_values(frame: pl.DataFrame, column: str = "value") -> pl.DataFrame:
    """Whole-number results stay whole numbers: a SUM or COUNT of integers (DuckDB's
    HUGEINT arrives as a DECIMAL of scale 0) becomes Int64, so CSV and JSON print ``12``,
    not ``12.0``; fractional results (AVG, ratios, NUMBER sums) are Float64."""
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Decimal):
        target = pl.Int64 if dtype.scale == 0 else pl.Float64
    elif dtype.is_integer() or dtype == pl.Boolean:
        target = pl.Int64
    elif dtype.is_float() or dtype == pl.Null:
        target = pl.Float64
    else:
        return frame
    return frame.with_columns(pl.col(column).cast(target))


def _polars_total(function: str) -> pl.Expr:
    column = pl.col("value")
    return {"sum": column.sum, "avg": column.mean, "count": column.count, "min": column.min, "max": column.max}[function]() \
        if function != "sum" else pl.when(column.is_not_null().any()).then(column.sum()).otherwise(None)


PART = "__part"  # 0: a grouped point, 1: a point of the ungrouped series
ALL_GROUPS = "__all_groups"


def _axis_and_conditions(request: KpiRequest, date_from: dt.date, date_to: dt.date,
                         alias: str) -> tuple[exp.Expression, str, list[exp.Expression]]:
    """(axis column, axis name, conditions) of the rows ``alias``: the cohort axis is
    cohort_day over the users registered in the range, the date axis the days in it; the
    conditions are the request's filters and that range."""
    conditions = [filter_condition(f, alias) for f in request.filters]
    if request.x_axis == "cohort_day":
        conditions.append(exp.Between(this=quoted("registration_date", alias), low=literal(date_from),
                                      high=literal(date_to)))
        return quoted("cohort_day", alias), "cohort_day", conditions
    axis_column = quoted("date", alias)
    conditions.append(exp.Between(this=axis_column.copy(), low=literal(date_from), high=literal(date_to)))
    return axis_column, "date", conditions


def _grouped_and_total(project: ResolvedProject, relation: exp.Expression, value: exp.Expression,
                       request: KpiRequest, by: list[str], date_from: dt.date, date_to: dt.date, total_function: str,
                       contributing: exp.Expression) -> exp.Expression:
    """A grouped query's points and its ungrouped series in one statement (DuckDB): one
    aggregation by GROUPING SETS over one read of the rows, each part on its own grid;
    ``PART`` tells them apart."""
    m = exp.alias_(exp.Subquery(this=relation), "m", table=True, copy=False)
    axis_column, axis_name, conditions = _axis_and_conditions(request, date_from, date_to, "m")
    groups = [quoted(b, "m") for b in by]
    every = exp.select(exp.alias_(axis_column, axis_name, quoted=True),
                       *[exp.alias_(g, b, quoted=True) for g, b in zip(groups, by)],
                       exp.alias_(value, "value", quoted=True, copy=False),
                       exp.alias_(contributing.copy(), "__rows", quoted=True, copy=False),
                       exp.alias_(exp.func("GROUPING", *[g.copy() for g in groups]), PART, quoted=True)).from_(m)
    every = every.where(exp.and_(*conditions), copy=False).group_by(exp.GroupingSets(expressions=[
        exp.Tuple(expressions=[axis_column.copy(), *[g.copy() for g in groups]]),
        exp.Tuple(expressions=[axis_column.copy()])]))
    return _both_parts(project, every, value, request, by, date_from, date_to, total_function, contributing)


def _both_parts(project: ResolvedProject, every: exp.Expression, value: exp.Expression, request: KpiRequest,
                by: list[str], date_from: dt.date, date_to: dt.date, total_function: str,
                contributing: exp.Expression) -> exp.Expression:
    """The grouped points and the ungrouped series from ``every``: (axis, group-by columns,
    value, __rows, PART) of both grouping sets."""
    axis_name = "cohort_day" if request.x_axis == "cohort_day" else "date"
    # GROUPING over all group-by columns is 0 on a grouped row and 2^k - 1 on the total's
    total_flag = exp.Literal.number(2 ** len(by) - 1)
    grouped = exp.select(quoted(axis_name), *[quoted(b) for b in by], quoted("value"), quoted("__rows")).from_(
        named(ALL_GROUPS)).where(exp.EQ(this=quoted(PART), expression=exp.Literal.number(0)))
    total = exp.select(quoted(axis_name), quoted("value"), quoted("__rows")).from_(named(ALL_GROUPS)).where(
        exp.EQ(this=quoted(PART), expression=total_flag))
    parts = [_points_query(project, None, value, request, by, date_from, date_to, total_function, contributing, grouped),
             _points_query(project, None, value, request, [], date_from, date_to, total_function, contributing, total)]
    return _stacked(axis_name, by, *parts).with_(cte_name(ALL_GROUPS), as_=every, materialized=True, copy=False)


def _stacked(axis_name: str, by: list[str], grouped: exp.Expression, total: exp.Expression) -> exp.Select:
    """The grouped points and the ungrouped series as one result, ``PART`` telling them apart."""
    first = exp.select(exp.alias_(exp.Literal.number(0), PART, quoted=True), exp.Star()).from_(
        exp.alias_(exp.Subquery(this=grouped), "g", table=True, copy=False))
    second = exp.select(exp.alias_(exp.Literal.number(1), PART, quoted=True), quoted(axis_name),
                        *[exp.alias_(exp.Null(), b, quoted=True) for b in by], quoted("value")).from_(
        exp.alias_(exp.Subquery(this=total), "t", table=True, copy=False))
    return exp.union(first, second, distinct=False)


def _points_query(project: ResolvedProject, relation: exp.Expression | None, value: exp.Expression, request: KpiRequest,
                  by: list[str], date_from: dt.date, date_to: dt.date, total_function: str,
                  contributing: exp.Expression, aggregated: exp.Select | None = None) -> exp.Expression:
    """The points of a KPI: its aggregation over ``relation`` (or the ``aggregated`` rows of
    (axis, group-by columns, value, __rows) given), on the axis's grid, rolled up to the grain.
    ``value`` becomes part of the query (a tree of the caller's, not used again)."""
    m = exp.alias_(exp.Subquery(this=relation if relation is not None else exp.select(exp.Literal.number(1))), "m",
                   table=True, copy=False)
    axis_column, axis_name, conditions = _axis_and_conditions(request, date_from, date_to, "m")
    groups = [quoted(b, "m") for b in by]
    if request.x_axis == "cohort_day":
        days = project.entity.cohorted_daily_kpis_days if project.entity else [0]
        grid_values = exp.select(exp.alias_(exp.Unnest(expressions=[exp.Array(expressions=[exp.Literal.number(d) for d in sorted(set(days))])]),
                                            "cohort_day", quoted=True))
    else:
        series = exp.func("generate_series", literal(date_from), literal(date_to),
                          exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY")))
        grid_values = exp.select(exp.alias_(exp.cast(exp.Unnest(expressions=[series]), "DATE"), "date", quoted=True))
    if aggregated is None:
        aggregated = exp.select(exp.alias_(axis_column, axis_name, quoted=True),
                                *[exp.alias_(g, b, quoted=True) for g, b in zip(groups, by)],
                                # the caller's own tree (not used again): its own type, see numeric_values
                                exp.alias_(value, "value", quoted=True, copy=False),
                                exp.alias_(contributing.copy(), "__rows", quoted=True, copy=False)).from_(m, copy=False)
        aggregated = aggregated.where(exp.and_(*conditions), copy=False) if conditions else aggregated
        aggregated = aggregated.group_by(*[exp.Literal.number(i + 1) for i in range(len(by) + 1)], copy=False)

    grid = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=grid_values), "axis", table=True, copy=False), copy=False)
    if by:
        # A group is listed when some row of it contributes somewhere in the range.
        group_values = exp.select(*[quoted(b) for b in by]).distinct().from_(named("agg"), copy=False).where(
            exp.GT(this=quoted("__rows"), expression=exp.Literal.number(0)), copy=False)
        grid = join(grid, exp.alias_(exp.Subquery(this=group_values), "groups", table=True, copy=False), kind="CROSS")
    keys = [axis_name, *by]
    joined = join(exp.select(*[quoted(k, "grid") for k in keys], quoted("value", "agg")).from_(
        exp.alias_(exp.Subquery(this=grid), "grid", table=True, copy=False), copy=False), named("agg"), side="LEFT",
        on=exp.and_(*[exp.NullSafeEQ(this=quoted(k, "grid"), expression=quoted(k, "agg")) for k in keys], copy=False))
    daily = joined.with_(cte_name("agg"), as_=aggregated, copy=False)
    if request.x_axis == "cohort_day" or request.grain == "day":
        return daily
    bucket = _grain_bucket(request.grain)
    return exp.select(exp.alias_(bucket, "date", quoted=True), *[quoted(b) for b in by],
                      exp.alias_(_total_aggregate(total_function, quoted("value")), "value", quoted=True)).from_(
        exp.alias_(exp.Subquery(this=daily), "d", table=True, copy=False)).group_by(
        *[exp.Literal.number(i + 1) for i in range(len(by) + 1)], copy=False)
