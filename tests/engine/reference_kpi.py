"""KPI queries over the reference logical model (SEMANTICS section 6); see ``reference``.

A KPI is unfolded into a formula whose aggregations are numbered: ``{kpi.k}`` is replaced
by k's formula (kept as a unit, so parentheses hold), and every aggregation carries the
``where`` clauses of the KPIs it was reached through (the referencing KPI's first).
Each aggregation then gets its population (rule 1, 2 or 3) and is evaluated over the
rows of one point (a day, or a cohort day) that pass its population and its filters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from reference_expr import Env, aggregate_values, compare, evaluate, in_list, parse, placeholders, truth

GRAINS = ("day", "week", "month", "quarter", "year")
TOTALS = {"sum": "SUM", "avg": "AVG", "count": "COUNT", "min": "MIN", "max": "MAX"}


@dataclass
class ExpandedKpi:
    id: str
    kpi: Any  # asemic_core.config.models.Kpi
    select: str
    where: str | None


def expand_kpis(config: Any) -> dict[str, ExpandedKpi]:
    """Templates expanded: ``{}`` in the id and where replaced by each value."""
    out: dict[str, ExpandedKpi] = {}
    for kpi_id, kpi in config.kpis.items():
        if kpi.template is None:
            out[kpi_id] = ExpandedKpi(kpi_id, kpi, kpi.select, kpi.where)
            continue
        values = config.entity.cohorted_daily_kpis_days if kpi.template == "cohort_day" else kpi.template
        for value in values:
            where = kpi.where.replace("{}", str(value)) if kpi.where else None
            out[kpi_id.replace("{}", str(value))] = ExpandedKpi(kpi_id, kpi, kpi.select, where)
    return out


@dataclass
class Aggregation:
    function: str  # SUM AVG COUNT MIN MAX
    argument: tuple | None  # None: COUNT(*)
    distinct: bool
    filters: tuple[tuple, ...]  # parsed where clauses, ANDed
    population: str = "all"


@dataclass
class KpiResult:
    x_axis: str
    grain: str
    group_by: tuple[str, ...]
    series: dict[tuple, dict[Any, Any]]
    totals: dict[tuple, Any]
    total: Any


def _unfold(kpis: dict[str, ExpandedKpi], kpi_id: str, axis: str, filters: tuple, stack: tuple,
            aggs: list[Aggregation]) -> tuple:
    item = kpis[kpi_id]
    if axis not in _axes(item.kpi):
        raise ValueError(f"KPI {kpi_id!r} does not define the {axis} axis (reached via {' -> '.join(stack)})")
    own = filters + ((parse(item.where),) if item.where else ())

    def walk(node: Any) -> Any:
        if not isinstance(node, tuple) or not node:
            return node
        if node[0] == "ph":
            if node[1] == "kpi":
                if node[2] in stack or node[2] not in kpis:
                    raise ValueError(f"bad KPI reference {node[2]!r} from {kpi_id!r} (cycle or unknown)")
                return ("group", _unfold(kpis, node[2], axis, own, stack + (node[2],), aggs))
            raise ValueError(f"{kpi_id}: property {node[2]!r} outside an aggregation")
        if node[0] == "agg":
            aggs.append(Aggregation(node[1], node[2], node[3], own))
            return ("aggref", len(aggs) - 1)
        return tuple(walk(child) for child in node)

    return walk(parse(item.select))


def _axes(kpi: Any) -> set[str]:
    return {"date" if name not in ("date", "cohort_day") else name for name in kpi.x_axis}


def _flatten_and(node: tuple) -> list[tuple]:
    if node[0] == "bin" and node[1] == "AND":
        return _flatten_and(node[2]) + _flatten_and(node[3])
    return [node]


def _population(agg: Aggregation, model: Any, axis: str) -> str:
    if axis == "cohort_day":
        return "cohort"
    predicates = list(dict.fromkeys(p for f in agg.filters for p in _flatten_and(f)))
    if len(predicates) == 1 and predicates[0][0] == "bin" and predicates[0][1] == "=":
        for side, other in ((predicates[0][2], predicates[0][3]), (predicates[0][3], predicates[0][2])):
            if (side[0] == "ph" and model.canonical(side[2]) in ("cohort_day", "days_since_last_active")
                    and other[0] == "lit" and type(other[1]) is int
                    and other[1] <= model.config.entity.active_days):
                return "recent"
    kinds: set[str] = set()
    pending = [name for _, name in placeholders(agg.argument)] if agg.argument is not None else []
    seen: set[str] = set()
    while pending:
        name = model.canonical(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        prop = model.props[name]
        kinds.add(prop.kind)
        if prop.kind == "computed_property":
            pending.extend(prop.deps)
    if "event_property" in kinds:
        return "active_day"
    if "sliding_window_property" in kinds:
        return "active_window"
    return "all"


def _in_population(population: str, row: dict[str, Any], model: Any) -> bool:
    active_days = model.config.entity.active_days
    dsla = row["days_since_last_active"]
    if population == "cohort":
        return row["cohort_day"] in model.config.entity.cohorted_daily_kpis_days
    if population in ("recent", "active_window"):
        return dsla is not None and dsla <= active_days
    if population == "active_day":
        return dsla == 0
    return True


def _property_env(row: dict[str, Any], model: Any) -> Env:
    def lookup(namespace: str | None, name: str) -> Any:
        if namespace != "property":
            raise NotImplementedError(f"{{{name}}}: KPI expressions reference {{property.x}} only")
        return row[model.canonical(name)]

    return Env(lookup)


def _passes_filter(row: dict[str, Any], model: Any, prop: str, op: str, value: Any) -> bool:
    x = row[model.canonical(prop)]
    op = op.lower()
    if op == "is null":
        return x is None
    if op == "is not null":
        return x is not None
    if op in ("in", "not in"):
        hit = in_list(x, list(value))
        return hit is (op == "in") if hit is not None else False
    return compare(op, x, value) is True


def _bucket(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if grain == "year":
        return day.replace(month=1, day=1)
    return day


def _total(function: str, values: list[Any]) -> Any:
    return aggregate_values(TOTALS[function], values, False, len(values), False)


def compute_kpi(model: Any, kpi_id: str, *, x_axis: str = "date", date_from: dt.date, date_to: dt.date,
                grain: str = "day", group_by: tuple[str, ...] | list[str] = (),
                filters: tuple | list = (), cohort_days: list[int] | None = None) -> KpiResult:
    config = model.config
    kpis = expand_kpis(config)
    if kpi_id not in kpis:
        raise KeyError(f"unknown KPI {kpi_id!r}")
    item = kpis[kpi_id]
    if grain not in GRAINS or (x_axis == "cohort_day" and grain != "day"):
        raise ValueError(f"grain {grain!r} on the {x_axis} axis")
    axis_body = next(body for name, body in item.kpi.x_axis.items()
                     if ("date" if name not in ("date", "cohort_day") else name) == x_axis) \
        if x_axis in _axes(item.kpi) else None
    if axis_body is None:
        raise ValueError(f"KPI {kpi_id!r} has no {x_axis} axis")
    total_function = axis_body.total_function or item.kpi.total_function or "sum"
    for name in group_by:
        _check_flag(config, model.canonical(name), "can_group_by")
    for name, _, _ in filters:
        _check_flag(config, model.canonical(name), "can_filter")

    aggs: list[Aggregation] = []
    formula = _unfold(kpis, kpi_id, x_axis, (), (kpi_id,), aggs)
    for agg in aggs:
        agg.population = _population(agg, model, x_axis)

    # Candidate rows of every point, after the query filters.
    rows = [row for row in model.rows.values() if all(_passes_filter(row, model, *f) for f in filters)]
    if x_axis == "date":
        points = [date_from + dt.timedelta(days=i) for i in range((date_to - date_from).days + 1)]
        position = "date"
    else:
        points = sorted(cohort_days if cohort_days is not None else config.entity.cohorted_daily_kpis_days)
        rows = [r for r in rows if date_from <= r["registration_date"] <= date_to]
        position = "cohort_day"
    by_point: dict[Any, list[dict[str, Any]]] = {p: [] for p in points}
    for row in rows:
        if row[position] in by_point:
            by_point[row[position]].append(row)

    def agg_rows(agg: Aggregation, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in candidates if _in_population(agg.population, r, model)
                and all(truth(evaluate(f, _property_env(r, model))) is True for f in agg.filters)]

    def point_value(candidates: list[dict[str, Any]]) -> Any:
        results, contributed = [], False
        for agg in aggs:
            seen = agg_rows(agg, candidates)
            contributed = contributed or bool(seen)
            values = [] if agg.argument is None else [evaluate(agg.argument, _property_env(r, model)) for r in seen]
            results.append(aggregate_values(agg.function, values, agg.distinct, len(seen), agg.argument is None))
        if not contributed:
            return None
        return _evaluate_formula(formula, results)

    def key(row: dict[str, Any]) -> tuple:
        return tuple(row[model.canonical(name)] for name in group_by)

    groups: list[tuple] = [()]
    if group_by:
        found = {key(r) for p in points for agg in aggs for r in agg_rows(agg, by_point[p])}
        groups = sorted(found, key=lambda g: tuple((v is not None, v) for v in g))

    def series_of(select_group) -> dict[Any, Any]:
        daily = {p: point_value([r for r in by_point[p] if select_group(r)]) for p in points}
        if grain == "day":
            return daily
        buckets: dict[dt.date, list[Any]] = {}
        for p, value in daily.items():
            buckets.setdefault(_bucket(p, grain), []).append(value)
        return {b: _total(total_function, values) for b, values in buckets.items()}

    series = {g: series_of(lambda r, g=g: key(r) == g) for g in groups}
    overall = series[()] if not group_by else series_of(lambda r: True)
    return KpiResult(
        x_axis=x_axis, grain=grain, group_by=tuple(group_by), series=series,
        totals={g: _total(total_function, list(s.values())) for g, s in series.items()},
        total=_total(total_function, list(overall.values())),
    )


def _check_flag(config: Any, name: str, flag: str) -> None:
    prop = config.properties.get(name)
    if prop is not None and not getattr(prop, flag):
        raise ValueError(f"property {name!r} is not {flag}")


def _evaluate_formula(formula: tuple, results: list[Any]) -> Any:
    def resolve(node: Any) -> Any:
        if not isinstance(node, tuple) or not node:
            return node
        if node[0] == "aggref":
            return ("lit", results[node[1]])
        if node[0] == "group":
            return resolve(node[1])
        return tuple(resolve(child) for child in node)

    def no_placeholders(namespace: str | None, name: str) -> Any:
        raise ValueError(f"{{{name}}} outside an aggregation")

    return evaluate(resolve(formula), Env(no_placeholders))
