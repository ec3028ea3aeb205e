"""Reference implementation of the logical model and of KPI queries, straight from SEMANTICS.md.

Plain Python, independent of the engine (no SQL, no DuckDB, no polars, no
``asemic_core.semantic``/``asemic_core.sql``): only the pydantic config models are reused
to read the YAML. Slow and obvious on purpose; it is the oracle the engine is tested
against, and it is itself checked against hand-computed golden datasets
(``tests/engine/golden/*/expected.yml``).

API
---
``load_config(project_dir_or_files) -> Config``
    The config of a project directory or of ``ProjectFiles`` from
    ``asemic_core.config.loader.load_project`` (raises if the files do not load cleanly).
    ``Config`` is a plain dataclass of the pydantic models (``entity``, ``events``,
    ``properties``, ``kpis``), so a test can add or change a definition before computing.

``compute_model(event_rows, config) -> Model``
    ``event_rows``: ``{event_id: [row, ...]}``, each row a dict column -> Python value
    (``str``/``int``/``float``/``bool``/``datetime.date``/``datetime.datetime``/``None``),
    in table row order (that order breaks timestamp ties). ``config``: a ``Config``,
    ``ProjectFiles`` or a project directory. The result holds
    ``model.rows: dict[(entity_id, date), dict[property_id, value]]`` for every registered
    user and every day from ``max(registration_date, start_date)`` to ``end_date``, with
    every property (config, base and hidden ``<id>__inner`` ones), plus
    ``model.end_date``, ``model.registrations`` (``entity_registrations`` rows by user) and
    ``model.value(prop, user, day)``.

``compute_kpi(model, kpi_id, *, x_axis="date", date_from, date_to, grain="day",
              group_by=(), filters=(), cohort_days=None) -> KpiResult``
    ``kpi_id`` is an expanded id (``retention_d1`` for ``retention_d{}``). ``filters`` are
    ``(property, op, value)`` with op in ``= != < <= > >= in, not in, is null, is not null``
    (``value`` a list for ``in``/``not in``, ignored for the null tests). On the cohort axis
    ``date_from``/``date_to`` select users by registration date and the points are
    ``cohort_days`` (default: ``cohorted_daily_kpis_days``). The result has
    ``series: {group_tuple: {x: value}}`` (``()`` is the only group without group-by; every
    group that has a contributing row somewhere in the range gets every point, NULL where
    it has none), ``totals: {group_tuple: value}`` and ``total`` (the axis' total function
    over the points of the ungrouped series).

The expression subset is evaluated by ``reference_expr`` (anything else raises
``NotImplementedError``); KPI unfolding and populations live in ``reference_kpi``.

Choices where SEMANTICS.md is silent (also listed in ``golden/README.md``):
- a table's ``where`` applies to every read, including the implicit tables and the
  end date (the latest activity date among rows that pass it);
- ``first_value``/``last_value`` ties on the timestamp: the earlier/later row in table
  order (the golden data avoids such ties);
- ``days_since_last_active`` comes from the activity days themselves, even when the
  config redefines ``last_activity_date``; activity before registration counts;
- a contributing row of an aggregation is one that passes its population, its KPI
  ``where`` clauses and the query filters; an aggregation over no rows is SQL's (COUNT 0,
  others NULL); a point is NULL when none of the KPI's aggregations has a row;
- query filters narrow every aggregation's rows but do not take part in population
  rule 2 (only the KPI ``where`` clauses do);
- with a coarser grain, buckets are keyed by their first day (Monday, the 1st, ...) and
  totals apply the total function to the bucket values;
- ``start_date`` after a registration: days before it do not exist (lifetime and windows
  start there too);
- event properties: ``default_value`` only when no row matches; matching rows whose values
  are all NULL give the aggregate's NULL (``count`` 0) (the golden data avoids this case);
- every value is conformed to its property's data type (NUMBER float, INTEGER int, ...);
  base properties may be grouped by and filtered on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference_expr import Env, aggregate_values, compare, evaluate, parse, placeholders, truth

from asemic_core.config.loader import ProjectFiles, load_project
from asemic_core.config.models import (
    ComputedPropertyDef,
    EntityConfig,
    EventPropertyDef,
    EventTable,
    FixedWindowDef,
    Kpi,
    LifetimeDef,
    Property,
    RegistrationPropertyDef,
    SlidingWindowDef,
)

REGISTRATIONS = "entity_registrations"
ACTIVITY = "entity_activity"
BASE = ("date", "entity_id", "registration_date", "cohort_day", "cohort_size", "last_activity_date",
        "days_since_last_active")
DAY = dt.timedelta(days=1)


@dataclass
class Config:
    entity: EntityConfig
    events: dict[str, EventTable]
    properties: dict[str, Property]
    kpis: dict[str, Kpi]


def load_config(project: Path | str | ProjectFiles) -> Config:
    """The config of a project directory (or of already loaded ``ProjectFiles``)."""
    files = project if isinstance(project, ProjectFiles) else load_project(project)
    errors = [issue for issue in files.issues if issue.is_error]
    if errors or files.entity is None:
        raise ValueError(f"project {files.root} does not load: {errors}")
    return Config(
        entity=files.entity.model,
        events={k: v.model for k, v in files.events.items()},
        properties={k: v.model for k, v in files.properties.items()},
        kpis={k: v.model for k, v in files.kpis.items()},
    )


# ------------------------------------------------------------------------------ events


@dataclass
class EventRow:
    entity: Any
    ts: dt.datetime
    date: dt.date
    index: int  # position in the table (ties on the timestamp)
    values: dict[str, Any]  # columns; `date` is the event date


def _column(table: EventTable, tag: str) -> str | None:
    tagged = table.columns_tagged(tag)
    return tagged[0] if tagged else None


def _read_table(table: EventTable, rows: list[dict[str, Any]]) -> list[EventRow]:
    entity_col = _column(table, "entity_id_column")
    ts_col = _column(table, "event_timestamp_column")
    date_col = _column(table, "date_column")
    where = parse(table.where) if table.where else None
    out = []
    for index, row in enumerate(rows):
        ts = row[ts_col]
        date = row[date_col] if date_col else ts.date()
        values = {**row, "date": date}
        if where is not None and truth(evaluate(where, _row_env(values))) is not True:
            continue
        out.append(EventRow(row[entity_col], ts, date, index, values))
    return out


def _row_env(values: dict[str, Any]) -> Env:
    def lookup(namespace: str | None, name: str) -> Any:
        if namespace is not None or name not in values:
            raise KeyError(f"unknown column {{{name}}} (columns: {sorted(values)})")
        return values[name]

    return Env(lookup)


def _implicit_aliases(config: Config) -> dict[str, str]:
    """The source tables' own names of entity/ts/date, valid on the implicit tables."""
    aliases: dict[str, str] = {}
    for table in config.events.values():
        if {"registration_event", "activity_event"} & set(table.tags):
            for tag, canonical in (("entity_id_column", "entity_id"), ("event_timestamp_column", "ts"),
                                   ("date_column", "date")):
                own = _column(table, tag)
                if own and own != canonical:
                    aliases.setdefault(own, canonical)
    return aliases


def _with_aliases(values: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    return {**{own: values[canonical] for own, canonical in aliases.items() if own not in values}, **values}


def _registrations(config: Config, tables: dict[str, list[EventRow]]) -> dict[Any, dict[str, Any]]:
    reg_columns: list[str] = []
    for event_id in sorted(config.events):
        if "registration_event" in config.events[event_id].tags:
            for name in config.events[event_id].columns_tagged("registration_property"):
                if name not in reg_columns:
                    reg_columns.append(name)
    best: dict[Any, tuple] = {}
    for event_id in sorted(config.events):
        if "registration_event" not in config.events[event_id].tags:
            continue
        own = config.events[event_id].columns_tagged("registration_property")
        for row in tables[event_id]:
            key = (row.ts, event_id, row.index)
            if row.entity not in best or key < best[row.entity][0]:
                values = {"entity_id": row.entity, "ts": row.ts, "date": row.date}
                values.update({name: (row.values.get(name) if name in own else None) for name in reg_columns})
                best[row.entity] = (key, values)
    return {entity: values for entity, (_, values) in best.items()}


# ------------------------------------------------------------------------------- model


@dataclass
class PropDef:
    id: str
    kind: str  # config kind name or "base"
    definition: Any
    data_type: str | None  # None: do not conform (counted inline sources)
    source: str | None = None
    deps: tuple[str, ...] = ()


@dataclass
class Model:
    config: Config
    end_date: dt.date
    registrations: dict[Any, dict[str, Any]]
    days: dict[Any, list[dt.date]]  # user -> the days that exist, in order
    props: dict[str, PropDef]
    aliases: dict[str, str]
    rows: dict[tuple[Any, dt.date], dict[str, Any]] = field(default_factory=dict)

    def value(self, prop: str, user: Any, day: dt.date) -> Any:
        return self.rows[(user, day)][self.canonical(prop)]

    def canonical(self, name: str) -> str:
        return name if name in self.props else self.aliases.get(name, name)


def _prop_defs(config: Config) -> tuple[dict[str, PropDef], dict[str, str]]:
    props = {name: PropDef(name, "base", None, None) for name in BASE}
    aliases = {"asemic_date": "date", "first_appearance_date": "registration_date"}
    for table in config.events.values():
        date_col = _column(table, "date_column")
        if "registration_event" in table.tags and date_col and date_col != "date":
            aliases[date_col] = "date"

    def canonical(name: str) -> str:
        return name if name in config.properties else aliases.get(name, name)

    for prop_id, prop in config.properties.items():
        d = prop.definition
        dtype = prop.data_type.value
        if isinstance(d, ComputedPropertyDef):
            deps = tuple(canonical(n) for _, n in placeholders(parse(d.select)))
            props[prop_id] = PropDef(prop_id, prop.kind, d, dtype, deps=deps)
        elif isinstance(d, (SlidingWindowDef, FixedWindowDef, LifetimeDef)):
            source = canonical(d.source_property) if d.source_property else f"{prop_id}__inner"
            if d.source_property is None:
                inner = d.source_event_property or d.source_computed_property
                counted = getattr(d, "window_function", None) in {"count", "count_distinct"}
                inner_type = inner.data_type.value if inner.data_type else (None if counted else dtype)
                kind = "event_property" if d.source_event_property else "computed_property"
                deps = () if d.source_event_property else tuple(canonical(n) for _, n in placeholders(parse(inner.select)))
                props[source] = PropDef(source, kind, inner, inner_type, deps=deps)
            props[prop_id] = PropDef(prop_id, prop.kind, d, dtype, source=source, deps=(source,))
        else:
            props[prop_id] = PropDef(prop_id, prop.kind, d, dtype)
    return props, {k: v for k, v in aliases.items() if k not in config.properties}


def compute_model(event_rows: dict[str, list[dict[str, Any]]], config: Config | ProjectFiles | Path | str) -> Model:
    if not isinstance(config, Config):
        config = load_config(config)
    entity = config.entity
    tables = {event_id: _read_table(table, event_rows.get(event_id, [])) for event_id, table in config.events.items()}
    aliases = _implicit_aliases(config)
    registrations = _registrations(config, tables)

    activity_ts: dict[tuple[Any, dt.date], dt.datetime] = {}
    for event_id, table in config.events.items():
        if "activity_event" in table.tags:
            for row in tables[event_id]:
                key = (row.entity, row.date)
                activity_ts[key] = min(activity_ts.get(key, row.ts), row.ts)
    if not activity_ts:
        raise ValueError("no activity events: the end date is undefined")
    end_date = max(date for _, date in activity_ts)
    if entity.model_settings.end_date is not None:
        end_date = min(end_date, entity.model_settings.end_date)
    start = entity.model_settings.start_date

    tables[REGISTRATIONS] = [
        EventRow(user, reg["ts"], reg["date"], i, _with_aliases(reg, aliases))
        for i, (user, reg) in enumerate(sorted(registrations.items(), key=lambda kv: str(kv[0])))
    ]
    tables[ACTIVITY] = [
        EventRow(user, ts, date, i, _with_aliases({"entity_id": user, "ts": ts, "date": date}, aliases))
        for i, ((user, date), ts) in enumerate(sorted(activity_ts.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])))
    ]

    days: dict[Any, list[dt.date]] = {}
    for user, reg in registrations.items():
        first = max(reg["date"], start) if start else reg["date"]
        span = (end_date - first).days + 1
        if span > 0:
            days[user] = [first + i * DAY for i in range(span)]
    props, prop_aliases = _prop_defs(config)
    model = Model(config, end_date, registrations, days, props, prop_aliases)
    activity_dates: dict[Any, list[dt.date]] = {}
    for user, date in sorted(activity_ts, key=lambda k: (str(k[0]), k[1])):
        activity_dates.setdefault(user, []).append(date)
    columns = _Columns(model, tables, activity_dates)
    for prop_id in props:
        columns.get(prop_id, ())
    for user, user_days in days.items():
        for day in user_days:
            model.rows[(user, day)] = {prop_id: columns.done[prop_id][(user, day)] for prop_id in props}
    return model


class _Columns:
    """Computes one property for every (user, day), dependencies first."""

    def __init__(self, model: Model, tables: dict[str, list[EventRow]], activity_dates: dict[Any, list[dt.date]]):
        self.model = model
        self.tables = tables
        self.activity_dates = activity_dates
        self.done: dict[str, dict[tuple[Any, dt.date], Any]] = {}
        self.keys = [(user, day) for user, user_days in model.days.items() for day in user_days]

    def get(self, prop_id: str, stack: tuple[str, ...]) -> dict[tuple[Any, dt.date], Any]:
        prop_id = self.model.canonical(prop_id)
        if prop_id in self.done:
            return self.done[prop_id]
        if prop_id in stack:
            raise ValueError(f"dependency cycle: {' -> '.join(stack + (prop_id,))}")
        if prop_id not in self.model.props:
            raise KeyError(f"unknown property {prop_id!r}")
        prop = self.model.props[prop_id]
        for dep in prop.deps:
            self.get(dep, stack + (prop_id,))
        compute = getattr(self, f"_{prop.kind}")
        column = {key: _conform(compute(prop, *key), prop) for key in self.keys}
        self.done[prop_id] = column
        return column

    # -- base properties
    def _base(self, prop: PropDef, user: Any, day: dt.date) -> Any:
        reg_date = self.model.registrations[user]["date"]
        if prop.id == "date":
            return day
        if prop.id == "entity_id":
            return user
        if prop.id == "registration_date":
            return reg_date
        if prop.id == "cohort_day":
            return (day - reg_date).days
        if prop.id == "cohort_size":
            return 1
        last = max((d for d in self.activity_dates.get(user, []) if d <= day), default=None)
        if prop.id == "last_activity_date":
            return last
        return None if last is None else (day - last).days

    # -- event properties
    def _event_property(self, prop: PropDef, user: Any, day: dt.date) -> Any:
        d: EventPropertyDef = prop.definition
        groups = self._grouped(d.source_event)
        rows = groups.get((user, day), [])
        if d.where:
            where = parse(d.where)
            rows = [r for r in rows if truth(evaluate(where, _row_env(r.values))) is True]
        if not rows:
            return d.default_value
        select = parse(d.select)
        function = d.aggregate_function
        if function == "none":
            def aggregate(node: tuple) -> Any:
                _, name, arg, distinct = node
                values = [] if arg is None else [evaluate(arg, _row_env(r.values)) for r in rows]
                return aggregate_values(name, values, distinct, len(rows), arg is None)

            def no_columns(namespace: str | None, name: str) -> Any:
                raise NotImplementedError(f"{{{name}}} outside an aggregate in a `none` select")

            return evaluate(select, Env(no_columns, aggregate))
        if function in ("first_value", "last_value"):
            order = sorted(rows, key=lambda r: (r.ts, r.index))
            chosen = order[0] if function == "first_value" else order[-1]
            return evaluate(select, _row_env(chosen.values))
        values = [evaluate(select, _row_env(r.values)) for r in rows]
        name = {"count": "COUNT", "count_distinct": "COUNT", "sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX"}
        return aggregate_values(name[function], values, function == "count_distinct", len(rows), False)

    def _grouped(self, event_id: str) -> dict[tuple[Any, dt.date], list[EventRow]]:
        cache = self.__dict__.setdefault("_groups", {})
        if event_id not in cache:
            groups: dict[tuple[Any, dt.date], list[EventRow]] = {}
            for row in self.tables[event_id]:
                groups.setdefault((row.entity, row.date), []).append(row)
            cache[event_id] = groups
        return cache[event_id]

    # -- registration properties
    def _registration_property(self, prop: PropDef, user: Any, day: dt.date) -> Any:
        d: RegistrationPropertyDef = prop.definition
        values = self._registration_rows()[user]
        column = d.source_column or prop.id
        if column not in values:
            raise KeyError(f"entity_registrations has no column {column!r}")
        return values[column]

    def _registration_rows(self) -> dict[Any, dict[str, Any]]:
        cache = self.__dict__.setdefault("_registration_cache", {})
        if not cache:
            cache.update({row.entity: row.values for row in self.tables[REGISTRATIONS]})
        return cache

    # -- computed properties
    def _computed_property(self, prop: PropDef, user: Any, day: dt.date) -> Any:
        d: ComputedPropertyDef = prop.definition

        def lookup(namespace: str | None, name: str) -> Any:
            if namespace is not None:
                raise NotImplementedError(f"{{{namespace}.{name}}} in a computed property")
            return self.done[self.model.canonical(name)][(user, day)]

        value = evaluate(parse(d.select), Env(lookup))
        if not d.value_mappings:
            return value
        for mapping in d.value_mappings:
            if mapping.range is None:
                if compare("=", value, mapping.constant) is True:
                    return mapping.new_value
            else:
                low, high = mapping.range.from_, mapping.range.to
                if value is not None and (low is None or compare(">=", value, low)) and (
                        high is None or compare("<=", value, high)):
                    return mapping.new_value
        return None

    # -- windows and lifetime
    def _window(self, prop: PropDef, user: Any, first: dt.date, last: dt.date, function: str) -> Any:
        source = self.done[prop.source]
        values = [source[(user, day)] for day in self.model.days[user] if first <= day <= last]
        name = {"count": "COUNT", "count_distinct": "COUNT", "sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX"}
        return aggregate_values(name[function], values, function == "count_distinct", len(values), False)

    def _sliding_window_property(self, prop: PropDef, user: Any, day: dt.date) -> Any:
        d: SlidingWindowDef = prop.definition
        return self._window(prop, user, day + d.relative_days_from * DAY, day + d.relative_days_to * DAY,
                            d.window_function)

    def _fixed_window_property(self, prop: PropDef, user: Any, day: dt.date) -> Any:
        d: FixedWindowDef = prop.definition
        if day < d.date_from:
            return None
        return self._window(prop, user, d.date_from, min(d.date_to, day), d.window_function)

    def _lifetime_property(self, prop: PropDef, user: Any, day: dt.date) -> Any:
        d: LifetimeDef = prop.definition
        source = self.done[prop.source]
        values = [source[(user, x)] for x in self.model.days[user] if x <= day]
        present = [v for v in values if v is not None]
        if not present:
            return None
        return {"sum": sum, "min": min, "max": max, "first_value": lambda v: v[0], "last_value": lambda v: v[-1]}[
            d.merge_function](present)


def _conform(value: Any, prop: PropDef) -> Any:
    """Cast a value to the property's type the way a typed column would hold it."""
    if value is None or prop.data_type is None:
        return value
    kind = prop.data_type
    if kind == "NUMBER" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "INTEGER" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != int(value):
            raise NotImplementedError(f"{prop.id}: non-integral {value!r} for an INTEGER property")
        return int(value)
    if kind == "STRING" and isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    if kind == "BOOLEAN" and isinstance(value, bool):
        return value
    if kind == "DATE" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if kind == "DATE" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if kind == "DATETIME" and isinstance(value, dt.datetime):
        return value
    raise NotImplementedError(f"{prop.id}: {value!r} as {kind}")


from reference_kpi import KpiResult, compute_kpi, expand_kpis  # noqa: E402  (re-exported API)

__all__ = ["Config", "Model", "KpiResult", "load_config", "compute_model", "compute_kpi", "expand_kpis"]
