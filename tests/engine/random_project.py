"""Random small projects for property-based tests of the engine against the reference.

``scenarios()`` is a hypothesis strategy of ``Scenario``: random event data (a few users
over a few days, three event tables) plus a random, valid config built from blocks that
cover every property kind and function, and random KPIs with queries. ``write_project``
puts a scenario on disk (YAML config + DuckDB warehouse) for ``asemic_core.project.Project``;
``reference_rows`` gives the same rows to ``reference.compute_model``.

Data
----
- ``registration`` (``raw.registrations``, tag ``registration_event``): 1-2 rows per user
  (the earliest wins), ``platform`` and ``country`` tagged ``registration_property``
  (NULLs included), optionally a table ``where``.
- ``session`` (``raw.sessions``, ``activity_event``, sometimes also ``registration_event``,
  then its ``platform`` is a registration column the registration table also has, and
  ``country`` is NULL when a session wins): ``length_s`` NUMBER, ``level`` INTEGER,
  ``platform`` STRING (NULLs in each), optionally a ``date_column`` that is the
  timestamp's date or a "local" date (one day earlier before 03:00).
- ``payment`` (``raw.payments``, ``payment_transaction_event``, sometimes also
  ``activity_event``): ``amount`` NUMBER (NULL, zero and negative included), ``quantity``
  INTEGER, ``product`` STRING, optionally a table ``where``. Payments may come before
  the user's registration.
- 1-4 events per active user-day, timestamps either all distinct or on a coarse grid
  (ties on the timestamp, inside a table and across tables).
- Amounts and lengths are multiples of 1/4, so sums are exact in binary floating point
  and do not depend on the summation order.

Config
------
Event properties (every aggregate function; ``none`` with ``COUNT(*)``, ``1`` and
aggregate expressions; random ``where`` and ``default_value``; the implicit
``entity_activity``/``entity_registrations`` tables), registration properties (explicit
and default ``source_column``, ``ts``, ``date``), computed properties (arithmetic,
``SAFE_DIVIDE``, ``IF``, ``CASE``, ``COALESCE``, ``DATE_DIFF``, ``IS NULL``, booleans,
``value_mappings`` with constants and ranges), sliding windows (every window function,
past and future offsets), fixed windows, lifetime properties (every merge function);
window and lifetime sources are ``source_property`` or inline event/computed
definitions, with or without an inner ``data_type``. Properties are drawn in sequence
and may use any earlier one, so chains such as window(computed(event)) and
lifetime(window(...)) arise; one such chain is always present. ``active_days`` and
``cohorted_daily_kpis_days`` are random; sometimes ``model_settings.end_date`` cuts the data.

KPIs and queries (``scenarios(with_kpis=True)``)
------------------------------------------------
2-4 single-aggregate KPIs (``SUM``/``AVG``/``MIN``/``MAX`` over numeric properties,
``COUNT``/``COUNTD`` over any), on both axes with random total functions (per axis or per
KPI) and a random ``where`` (population rule 2 forms ``{property.cohort_day} = N`` and
``N = {property.days_since_last_active}``, comparisons, booleans); a KPI referencing two
of them (``SAFE_DIVIDE({kpi.a} * 100, {kpi.b})``, ``{kpi.a} - {kpi.b}``, ...) with its own
``where``; a template over ``cohort_day`` (or a list). One query per expanded KPI: random
axis, grain (day/week/month), range (it may reach past the model), group-by (registration
properties, a STRING computed property, ``cohort_day``) and at most one filter with any
operator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml
from hypothesis import strategies as st

NUMBER, INTEGER, STRING, DATE, DATETIME, BOOLEAN = "NUMBER", "INTEGER", "STRING", "DATE", "DATETIME", "BOOLEAN"
NUMERIC = (NUMBER, INTEGER)
DUCKDB_TYPES = {NUMBER: "DOUBLE", INTEGER: "BIGINT", STRING: "VARCHAR", DATE: "DATE", DATETIME: "TIMESTAMP",
                BOOLEAN: "BOOLEAN"}
DAY = dt.timedelta(days=1)

PLATFORMS = ["ios", "android", "web", None]
COUNTRIES = ["US", "DE", "BR", None]
PRODUCTS = ["coins", "gems", None]
LENGTHS = [0.0, 30.0, 50.0, 100.0, 150.5, 300.0, None]
LEVELS = [1, 2, 3, 5, None]
AMOUNTS = [0.5, 1.25, 2.0, 4.75, 10.0, 0.0, -1.0, None]
QUANTITIES = [1, 2, 3]
STARTS = [dt.date(2024, 1, 22), dt.date(2024, 2, 24), dt.date(2023, 12, 27), dt.date(2024, 3, 29)]

BASE_TYPES = {"date": DATE, "entity_id": STRING, "registration_date": DATE, "cohort_day": INTEGER,
              "cohort_size": INTEGER, "last_activity_date": DATE, "days_since_last_active": INTEGER}

# Columns an event property may select, by source event (``date`` = the event date).
EVENT_COLUMNS: dict[str, dict[str, str]] = {
    "session": {"length_s": NUMBER, "level": INTEGER, "platform": STRING, "event_ts": DATETIME, "date": DATE,
                "user_id": STRING},
    "payment": {"amount": NUMBER, "quantity": INTEGER, "product": STRING, "event_ts": DATETIME, "date": DATE},
    "registration": {"platform": STRING, "country": STRING, "event_ts": DATETIME, "date": DATE},
    "entity_activity": {"ts": DATETIME, "date": DATE, "entity_id": STRING},
    "entity_registrations": {"ts": DATETIME, "date": DATE, "platform": STRING, "country": STRING},
}
# Expression selects (aggregated by the aggregate function like a column).
EVENT_EXPRESSIONS: dict[str, list[tuple[str, str]]] = {
    "session": [("COALESCE({length_s}, 0) + {level}", NUMBER), ("{level} * 2", INTEGER)],
    "payment": [("{amount} * {quantity}", NUMBER), ("IF({amount} > 1, {quantity}, 0)", INTEGER)],
}
NONE_SELECTS: dict[str, list[tuple[str, str]]] = {
    "session": [("COUNT(*)", INTEGER), ("1", INTEGER), ("SUM({length_s}) / COUNT(*)", NUMBER),
                ("MAX({level}) - MIN({level})", INTEGER), ("COUNT(DISTINCT {platform})", INTEGER)],
    "payment": [("COUNT(*)", INTEGER), ("1", INTEGER), ("SUM({amount} * {quantity}) / SUM({quantity})", NUMBER),
                ("SUM({amount})", NUMBER)],
    "registration": [("COUNT(*)", INTEGER), ("1", INTEGER)],
    "entity_activity": [("1", INTEGER), ("COUNT(*)", INTEGER)],
    "entity_registrations": [("1", INTEGER)],
}
EVENT_WHERES: dict[str, list[str]] = {
    "session": ["{length_s} >= 50", "{platform} = 'ios'", "{level} > 2 OR {length_s} IS NULL", "{level} IN (1, 2)",
                "{platform} IS NULL"],
    "payment": ["{amount} > 2", "{product} != 'coins'", "{quantity} >= 2", "{amount} IS NOT NULL AND {quantity} = 1"],
    "registration": ["{country} = 'US'"],
    "entity_activity": [],
    "entity_registrations": ["{platform} = 'web'"],
}
DEFAULTS = {INTEGER: [None, 0, -1], NUMBER: [None, 0, 0.5], STRING: [None, "none"], DATE: [None],
            DATETIME: [None], BOOLEAN: [None]}
AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max", "first_value", "last_value", "none")
# (Hypothesis draws early elements a little more often: the rarer cases come first.)
WINDOW_FUNCTIONS = ("min", "max", "count_distinct", "avg", "count", "sum")
MERGE_FUNCTIONS = ("first_value", "last_value", "min", "max", "sum")
ORDERED = (NUMBER, INTEGER, STRING, DATE)  # types min/max are drawn over


@dataclass
class Prop:
    id: str
    type: str
    kind: str
    body: dict[str, Any]  # the YAML mapping under properties.<id>


@dataclass
class Scenario:
    start: dt.date
    n_days: int
    active_days: int
    cohort_days: list[int]
    model_settings: dict[str, Any]
    tables: dict[str, dict[str, Any]]  # event id -> event YAML
    columns: dict[str, dict[str, str]]  # event id -> column -> type
    rows: dict[str, list[dict[str, Any]]]  # event id -> rows in table order
    props: list[Prop]
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)
    queries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_day(self) -> dt.date:
        return self.start + (self.n_days - 1) * DAY

    def describe(self) -> str:
        """Everything needed to reproduce an example by hand (hypothesis prints it)."""
        return yaml.safe_dump({
            "start": self.start, "n_days": self.n_days, "entity": self.entity_yaml(), "events": self.tables,
            "rows": self.rows, "properties": {p.id: p.body for p in self.props}, "kpis": self.kpis,
            "queries": self.queries,
        }, sort_keys=False, width=140)

    def entity_yaml(self) -> dict[str, Any]:
        body: dict[str, Any] = {"data_model_schema": "model", "cohorted_daily_kpis_days": self.cohort_days,
                                "active_days": self.active_days}
        if self.model_settings:
            body["model_settings"] = self.model_settings
        return body


# ------------------------------------------------------------------------------ data


def _timestamp(day: dt.date, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)


@st.composite
def _event_data(draw) -> dict[str, Any]:
    start = draw(st.sampled_from(STARTS))
    n_days = draw(st.integers(5, 15))
    n_users = draw(st.integers(2, 6))
    # Coarse timestamps in some examples: ties inside a table (first_value/last_value break
    # them by row order) and across tables (registration: by event id, then row order).
    ties = draw(st.booleans())
    minutes = st.sampled_from([9 * 60, 9 * 60 + 30, 10 * 60]) if ties else st.integers(0, 24 * 60 - 1)
    options = {
        "session_registers": draw(st.booleans()),
        "payment_active": draw(st.booleans()),
        "session_date": draw(st.sampled_from([None, "same", "local"])),
        "payment_where": draw(st.sampled_from([None, None, "{amount} > 0", "{quantity} < 3"])),
        "registration_where": draw(st.sampled_from([None, None, None, "{platform} IS NOT NULL"])),
        "session_where": draw(st.sampled_from([None, None, "{length_s} IS NULL OR {length_s} > 0"])),
    }
    used: set[dt.datetime] = set()

    def stamp(table: str, user: str, day: dt.date) -> dt.datetime:
        ts = _timestamp(day, draw(minutes))
        if not ties:  # distinct timestamps everywhere
            while ts in used:
                ts += dt.timedelta(seconds=1)
            used.add(ts)
        return ts

    rows: dict[str, list[dict[str, Any]]] = {"registration": [], "session": [], "payment": []}
    for index in range(n_users):
        user = f"u{index}"
        for _ in range(draw(st.integers(1, 2))):
            day = start + draw(st.integers(0, n_days - 1)) * DAY
            rows["registration"].append({"user_id": user, "event_ts": stamp("registration", user, day),
                                         "platform": draw(st.sampled_from(PLATFORMS)),
                                         "country": draw(st.sampled_from(COUNTRIES))})
        active = draw(st.sets(st.integers(-1, n_days - 1), max_size=n_days))
        for offset in sorted(active):
            day = start + offset * DAY
            for _ in range(draw(st.integers(1, 4))):
                if draw(st.integers(0, 2)) < 2:
                    rows["session"].append({"user_id": user, "event_ts": stamp("session", user, day),
                                            "platform": draw(st.sampled_from(PLATFORMS)),
                                            "length_s": draw(st.sampled_from(LENGTHS)),
                                            "level": draw(st.sampled_from(LEVELS))})
                else:
                    rows["payment"].append({"user_id": user, "event_ts": stamp("payment", user, day),
                                            "amount": draw(st.sampled_from(AMOUNTS)),
                                            "quantity": draw(st.sampled_from(QUANTITIES)),
                                            "product": draw(st.sampled_from(PRODUCTS))})
    # At least one session inside the period, so the end date is defined.
    if not any(r["event_ts"].date() >= start and (options["session_where"] is None or r["length_s"] != 0.0)
               for r in rows["session"]):
        rows["session"].append({"user_id": "u0", "event_ts": stamp("session", "u0", start + (n_days - 1) * DAY),
                                "platform": "ios", "length_s": 30.0, "level": 1})
    if options["registration_where"] and rows["registration"][0]["platform"] is None:
        rows["registration"][0]["platform"] = "web"  # someone registers
    # Table order is not time order: shuffle each table's rows.
    for name in rows:
        order = draw(st.permutations(range(len(rows[name]))))
        rows[name] = [rows[name][i] for i in order]
    if options["session_date"]:
        for row in rows["session"]:
            ts = row["event_ts"]
            local = options["session_date"] == "local" and ts.hour < 3
            row["event_date"] = ts.date() - DAY if local else ts.date()
    return {"start": start, "n_days": n_days, "rows": rows, "options": options}


def _tables(options: dict[str, Any]) -> tuple[dict[str, dict], dict[str, dict[str, str]]]:
    reg_tags = {"user_id": ["entity_id_column"], "event_ts": ["event_timestamp_column"],
                "platform": ["registration_property"], "country": ["registration_property"]}
    columns = {
        "registration": {"user_id": STRING, "event_ts": DATETIME, "platform": STRING, "country": STRING},
        "session": {"user_id": STRING, "event_ts": DATETIME, "platform": STRING, "length_s": NUMBER, "level": INTEGER},
        "payment": {"user_id": STRING, "event_ts": DATETIME, "amount": NUMBER, "quantity": INTEGER, "product": STRING},
    }
    session_tags = {"user_id": ["entity_id_column"], "event_ts": ["event_timestamp_column"]}
    if options["session_registers"]:
        session_tags["platform"] = ["registration_property"]
    if options["session_date"]:
        columns["session"]["event_date"] = DATE
        session_tags["event_date"] = ["date_column"]
    payment_tags = {"user_id": ["entity_id_column"], "event_ts": ["event_timestamp_column"],
                    "amount": ["transaction_amount_column"]}
    table_tags = {
        "registration": ["registration_event"],
        "session": ["activity_event"] + (["registration_event"] if options["session_registers"] else []),
        "payment": ["payment_transaction_event"] + (["activity_event"] if options["payment_active"] else []),
    }
    names = {"registration": "raw.registrations", "session": "raw.sessions", "payment": "raw.payments"}
    tags = {"registration": reg_tags, "session": session_tags, "payment": payment_tags}
    wheres = {"registration": options["registration_where"], "session": options["session_where"],
              "payment": options["payment_where"]}
    tables = {}
    for event_id, cols in columns.items():
        body: dict[str, Any] = {"table_name": names[event_id], "tags": table_tags[event_id], "columns": {}}
        for name, data_type in cols.items():
            column: dict[str, Any] = {"data_type": data_type}
            if tags[event_id].get(name):
                column["tags"] = tags[event_id][name]
            body["columns"][name] = column
        if wheres[event_id]:
            body["where"] = wheres[event_id]
        tables[event_id] = body
    return tables, columns


# -------------------------------------------------------------------------- properties


def _result_type(function: str, column_type: str) -> str | None:
    """The type of an aggregate over a column type (None: not drawn)."""
    if function in ("count", "count_distinct"):
        return INTEGER
    if function == "sum":
        return column_type if column_type in NUMERIC else None
    if function == "avg":
        return NUMBER if column_type in NUMERIC else None
    if function in ("min", "max"):
        return column_type if column_type in ORDERED + (DATETIME,) else None
    return column_type  # first_value, last_value


@st.composite
def event_definition(draw, types: tuple[str, ...] | None = None) -> tuple[dict[str, Any], str]:
    """An event_property body and its value type (restricted to ``types``)."""
    options: list[tuple[str, str, str, str]] = []  # source, function, select, type
    for source, columns in EVENT_COLUMNS.items():
        selects = [("{" + c + "}", t) for c, t in columns.items()] + EVENT_EXPRESSIONS.get(source, [])
        for function in AGGREGATES:
            if function == "none":
                options += [(source, function, s, t) for s, t in NONE_SELECTS[source]]
                continue
            for select, column_type in selects:
                result = _result_type(function, column_type)
                if result is not None:
                    options.append((source, function, select, result))
    if types is not None:
        options = [o for o in options if o[3] in types]
    functions = sorted({o[1] for o in options}, key=AGGREGATES.index)
    function = draw(st.sampled_from(functions))
    options = [o for o in options if o[1] == function]
    sources = sorted({o[0] for o in options}, key=list(EVENT_COLUMNS).index)
    # Mostly the real tables: the implicit ones have few columns.
    source = draw(st.sampled_from(sources + [s for s in sources if s in ("session", "payment")] * 2))
    source_, function, select, data_type = draw(st.sampled_from([o for o in options if o[0] == source]))
    body: dict[str, Any] = {"source_event": source_, "select": select, "aggregate_function": function}
    if EVENT_WHERES[source_] and draw(st.integers(0, 2)) == 0:
        body["where"] = draw(st.sampled_from(EVENT_WHERES[source_]))
    default = draw(st.sampled_from(DEFAULTS[data_type]))
    if default is not None:
        body["default_value"] = default
    return body, data_type


def _visible(pool: list[Prop], types: tuple[str, ...]) -> list[Prop]:
    return [p for p in pool if p.type in types]


@st.composite
def computed_definition(draw, pool: list[Prop], types: tuple[str, ...] | None = None) -> tuple[dict[str, Any], str] | None:
    """A computed_property body over properties of ``pool`` and its value type (None: no shape fits)."""
    numeric = _visible(pool, NUMERIC)
    strings = _visible(pool, (STRING,))
    dates = _visible(pool, (DATE,))
    bools = _visible(pool, (BOOLEAN,))
    threshold = st.sampled_from([0, 1, 2, 0.5, 45.5])
    pick = lambda props: draw(st.sampled_from(props)).id  # noqa: E731

    ints = _visible(pool, (INTEGER,))
    numbers = _visible(pool, (NUMBER,))
    shapes: list[tuple[str, str]] = [("is_null", BOOLEAN)]
    if numeric:
        shapes += [("coalesce_plus", NUMBER), ("safe_divide", NUMBER), ("if_threshold", INTEGER), ("case", STRING),
                   ("map_numeric", STRING), ("map_numeric", INTEGER)]
    if ints:
        shapes += [("coalesce_plus", INTEGER), ("times_two", INTEGER)]
    if numbers:
        shapes.append(("times_two", NUMBER))
    if dates:
        shapes.append(("date_diff", INTEGER))
    if strings:
        shapes += [("map_string", STRING), ("concat_if", STRING)]
    if bools and numeric:
        shapes += [("bool_and", BOOLEAN), ("not_bool", BOOLEAN)]
    if types is not None:
        shapes = [s for s in shapes if s[1] in types]
    if not shapes:
        return None
    shape, data_type = draw(st.sampled_from(shapes))
    body: dict[str, Any]
    if shape == "coalesce_plus":
        a, b = pick(numeric if data_type == NUMBER else ints), pick(numeric if data_type == NUMBER else ints)
        typed = {p.id: p.type for p in pool}
        extra = " + 0.25" if data_type == NUMBER and NUMBER not in (typed[a], typed[b]) else ""
        body = {"select": f"COALESCE({{{a}}}, 0) + {{{b}}}{extra}"}
    elif shape == "times_two":
        candidates = _visible(pool, (data_type,))
        body = {"select": f"{{{pick(candidates)}}} * 2"}
    elif shape == "safe_divide":
        body = {"select": f"SAFE_DIVIDE({{{pick(numeric)}}}, {{{pick(numeric)}}})"}
    elif shape == "if_threshold":
        body = {"select": f"IF({{{pick(numeric)}}} > {draw(threshold)}, 1, 0)"}
    elif shape == "is_null":
        body = {"select": f"{{{pick(pool)}}} IS NULL"}
    elif shape == "case":
        a = pick(numeric)
        body = {"select": f"CASE WHEN {{{a}}} >= {draw(threshold)} THEN 'hi' WHEN {{{a}}} IS NULL THEN 'none' "
                          f"ELSE 'lo' END"}
    elif shape == "date_diff":
        body = {"select": f"DATE_DIFF({{date}}, {{{pick(dates)}}}, DAY)"}
    elif shape == "map_numeric":
        source = draw(st.sampled_from(numeric))
        bounds = [0, 1, 2, 3, 10] if source.type == INTEGER else [0, 0.5, 1, 2, 2.5, 10, 45.5, 100]
        mappings = []
        for index in range(draw(st.integers(1, 4))):
            new_value = f"m{index}" if data_type == STRING else index * 10
            if source.type == INTEGER and draw(st.booleans()):
                mappings.append({"constant": draw(st.sampled_from([0, 1, 2, 3])), "new_value": new_value})
                continue
            low = draw(st.sampled_from([None] + bounds))
            high = draw(st.sampled_from([None] + [b for b in bounds if low is None or b >= low]))
            if low is None and high is None:
                high = bounds[1]
            value_range = {}
            if low is not None:
                value_range["from"] = low
            if high is not None:
                value_range["to"] = high
            mappings.append({"range": value_range, "new_value": new_value})
        body = {"select": f"{{{source.id}}}", "value_mappings": mappings}
    elif shape == "map_string":
        constants = draw(st.lists(st.sampled_from(["ios", "android", "web", "coins", "gems", "US", "none"]),
                                  min_size=1, max_size=3))
        body = {"select": f"{{{pick(strings)}}}",
                "value_mappings": [{"constant": c, "new_value": f"is_{c}"} for c in constants]}
    elif shape == "concat_if":
        a = pick(strings)
        body = {"select": f"IF({{{a}}} IS NULL, 'missing', {{{a}}})"}
    elif shape == "bool_and":
        body = {"select": f"{{{pick(bools)}}} AND {{{pick(numeric)}}} > {draw(threshold)}"}
    else:  # not_bool
        body = {"select": f"NOT COALESCE({{{pick(bools)}}}, FALSE)"}
    return body, data_type


def _window_type(function: str, source_type: str) -> str | None:
    if function == "sum":
        return source_type if source_type in NUMERIC else None
    if function == "avg":
        return NUMBER if source_type in NUMERIC else None
    if function in ("count", "count_distinct"):
        return INTEGER
    return source_type if source_type in ORDERED else None  # min, max


def _merge_type(function: str, source_type: str) -> str | None:
    if function == "sum":
        return source_type if source_type in NUMERIC else None
    if function in ("min", "max"):
        return source_type if source_type in ORDERED else None
    return source_type


@st.composite
def sourced(draw, pool: list[Prop], function: str, type_of) -> tuple[dict[str, Any], str]:
    """The ``<source>`` part of a window/lifetime property and the property's type."""
    allowed = tuple(t for t in (NUMBER, INTEGER, STRING, DATE, DATETIME, BOOLEAN) if type_of(function, t))
    candidates = [p for p in pool if p.type in allowed]
    kind = draw(st.sampled_from(["property", "property", "event", "computed"]))
    if kind == "property" and candidates:
        source = draw(st.sampled_from(candidates))
        return {"source_property": source.id}, type_of(function, source.type)
    computed = draw(computed_definition(pool, allowed)) if kind == "computed" else None
    if computed is not None:
        inner, inner_type = computed
        key = "source_computed_property"
    else:
        inner, inner_type = draw(event_definition(allowed))
        key = "source_event_property"
    data_type = type_of(function, inner_type)
    counted = function in ("count", "count_distinct")
    # Without its own data_type an inline source takes the property's type (count windows:
    # a type inferred from the source, else text; docs/semantics.md).
    optional = counted or inner_type == data_type or (inner_type == INTEGER and data_type == NUMBER)
    if not optional or draw(st.booleans()):
        inner = {**inner, "data_type": inner_type}
    return {key: inner}, data_type


@st.composite
def properties(draw, start: dt.date, n_days: int, active_days: int) -> list[Prop]:
    pool = [Prop(name, data_type, "base", {}) for name, data_type in BASE_TYPES.items()]
    out: list[Prop] = []

    def add(prop_id: str, data_type: str, kind: str, definition: dict[str, Any], **flags: Any) -> Prop:
        prop = Prop(prop_id, data_type, kind, {"data_type": data_type, **flags, kind: definition})
        pool.append(prop)
        out.append(prop)
        return prop

    for index in range(draw(st.integers(3, 5))):
        body, data_type = draw(event_definition())
        add(f"ev{index}", data_type, "event_property", body)
    registrations = [("platform", STRING, {}), ("reg_country", STRING, {"source_column": "country"}),
                     ("reg_platform", STRING, {"source_column": "platform"}), ("reg_ts", DATETIME, {"source_column": "ts"}),
                     ("reg_day", DATE, {"source_column": "date"})]
    chosen = draw(st.lists(st.sampled_from(registrations), min_size=1, max_size=3, unique_by=lambda r: r[0]))
    for prop_id, data_type, body in chosen:
        add(prop_id, data_type, "registration_property", body, **({"can_group_by": True} if data_type == STRING else {}))

    # Always one chain: a window or lifetime over a computed property over an event property.
    events = [p for p in out if p.kind == "event_property" and p.type in NUMERIC]
    if not events:
        body, data_type = draw(event_definition(NUMERIC))
        events = [add("ev_num", data_type, "event_property", body)]
    base = draw(st.sampled_from(events))
    chain = add("chain_c", NUMBER, "computed_property", {"select": f"COALESCE({{{base.id}}}, 0) * 1.5"})
    kinds = ["computed_property", "sliding_window_property", "fixed_window_property", "lifetime_property"]
    sequence = [draw(st.sampled_from(["sliding_window_property", "lifetime_property"]))]
    sequence += draw(st.lists(st.sampled_from(kinds), min_size=3, max_size=8))
    for index, kind in enumerate(sequence):
        prop_id = f"{kind.split('_')[0]}{index}"
        source_pool = [p for p in pool if p.kind != "base" or draw(st.integers(0, 3)) == 0] or pool
        if index == 0:
            function = draw(st.sampled_from(["sum", "min", "max"] if kind == "lifetime_property" else WINDOW_FUNCTIONS))
            window = ({"merge_function": function} if kind == "lifetime_property" else
                      {"window_function": function, "relative_days_from": -draw(st.integers(0, 4)), "relative_days_to": 0})
            data_type = NUMBER if function != "count" and function != "count_distinct" else INTEGER
            add(prop_id, data_type, kind, {**window, "source_property": chain.id})
        elif kind == "computed_property":
            body, data_type = draw(computed_definition(pool))
            flags = {"can_group_by": True} if data_type == STRING and draw(st.booleans()) else {}
            add(prop_id, data_type, kind, body, **flags)
        elif kind == "lifetime_property":
            function = draw(st.sampled_from(MERGE_FUNCTIONS))
            source, data_type = draw(sourced(source_pool, function, _merge_type))
            add(prop_id, data_type, kind, {"merge_function": function, **source})
        else:
            function = draw(st.sampled_from(WINDOW_FUNCTIONS))
            source, data_type = draw(sourced(source_pool, function, _window_type))
            if kind == "sliding_window_property":
                high = draw(st.integers(-active_days, 3))
                low = high - draw(st.integers(0, 6))
                window = {"window_function": function, "relative_days_from": low, "relative_days_to": high}
            else:
                first = start + draw(st.integers(-2, n_days)) * DAY
                window = {"window_function": function, "date_from": first,
                          "date_to": first + draw(st.integers(0, n_days)) * DAY}
            add(prop_id, data_type, kind, {**window, **source})
    return out


# -------------------------------------------------------------------------------- KPIs


def _filter_value(draw, prop: Prop, start: dt.date, n_days: int) -> tuple[str, Any]:
    if prop.type in NUMERIC:
        values = [0, 1, 2, 3] if prop.type == INTEGER else [0, 0.5, 2.0, 10.0]
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null"]))
    elif prop.type == STRING:
        values = ["ios", "android", "web", "US", "DE", "none", "m0", "m1", "hi", "lo", "is_ios"]
        op = draw(st.sampled_from(["=", "!=", "in", "not in", "is null", "is not null"]))
    elif prop.type == DATE:
        values = [start + i * DAY for i in range(n_days)]
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "is null", "is not null"]))
    elif prop.type == BOOLEAN:
        values = [True, False]
        op = draw(st.sampled_from(["=", "!=", "is null", "is not null"]))
    else:
        op = draw(st.sampled_from(["is null", "is not null"]))
        values = []
    if op in ("is null", "is not null"):
        return op, None
    if op in ("in", "not in"):
        return op, tuple(draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True)))
    return op, draw(st.sampled_from(values))


def _kpi_where(draw, props: list[Prop]) -> str | None:
    numeric = [p for p in props if p.type in NUMERIC]
    strings = [p for p in props if p.type == STRING]
    bools = [p for p in props if p.type == BOOLEAN]
    choices = ["none", "none", "cohort_eq", "dsla_eq", "cohort_le", "numeric"]
    if strings:
        choices.append("string")
    if bools:
        choices.append("bool")
    choice = draw(st.sampled_from(choices))
    if choice == "none":
        return None
    if choice == "cohort_eq":
        return f"{{property.cohort_day}} = {draw(st.integers(0, 3))}"
    if choice == "dsla_eq":
        return f"{draw(st.integers(0, 3))} = {{property.days_since_last_active}}"
    if choice == "cohort_le":
        return "{property.cohort_day} <= 1"
    if choice == "numeric":
        prop = draw(st.sampled_from(numeric))
        return f"{{property.{prop.id}}} {draw(st.sampled_from(['>', '>=', '<']))} {draw(st.sampled_from([0, 1, 0.5]))}"
    if choice == "string":
        prop = draw(st.sampled_from(strings))
        return f"{{property.{prop.id}}} = '{draw(st.sampled_from(['ios', 'web', 'hi', 'm0']))}'"
    prop = draw(st.sampled_from(bools))
    return f"{{property.{prop.id}}}"


def _x_axis(draw, axes: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for axis in axes:
        function = draw(st.sampled_from([None, "sum", "avg", "count", "min", "max"]))
        out[axis] = {"total_function": function} if function else {}
    return out


@st.composite
def kpis(draw, props: list[Prop]) -> dict[str, dict[str, Any]]:
    visible = [Prop(n, t, "base", {}) for n, t in BASE_TYPES.items()] + props
    numeric = [p for p in visible if p.type in NUMERIC]
    out: dict[str, dict[str, Any]] = {}
    simple: list[str] = []
    for index in range(draw(st.integers(2, 4))):
        function = draw(st.sampled_from(["SUM", "AVG", "MIN", "MAX", "COUNT", "COUNTD"]))
        prop = draw(st.sampled_from(numeric if function in ("SUM", "AVG", "MIN", "MAX") else visible))
        body: dict[str, Any] = {"select": f"{function}({{property.{prop.id}}})",
                                "x_axis": _x_axis(draw, ("date", "cohort_day"))}
        where = _kpi_where(draw, visible)
        if where:
            body["where"] = where
        if draw(st.integers(0, 3)) == 0:
            body["total_function"] = draw(st.sampled_from(["sum", "avg", "min", "max", "count"]))
        out[f"k{index}"] = body
        simple.append(f"k{index}")
    # References to other KPIs (their wheres accumulate), parentheses kept.
    a, b = draw(st.sampled_from(simple)), draw(st.sampled_from(simple))
    select = draw(st.sampled_from([f"SAFE_DIVIDE({{kpi.{a}}} * 100, {{kpi.{b}}})", f"{{kpi.{a}}} - {{kpi.{b}}}",
                                   f"{{kpi.{a}}} + SUM({{property.cohort_size}})", f"{{kpi.{a}}} * 2"]))
    body = {"select": select, "x_axis": _x_axis(draw, draw(st.sampled_from([("date",), ("date", "cohort_day")])))}
    where = _kpi_where(draw, visible)
    if where:
        body["where"] = where
    out["ref"] = body
    # A template over cohort days (rule 2 on each expansion).
    prop = draw(st.sampled_from(numeric))
    out["rate_d{}"] = {
        "select": f"SAFE_DIVIDE(SUM({{property.{prop.id}}}) * 100, SUM({{property.cohort_size}}))",
        "where": "{property.cohort_day} = {}",
        "template": draw(st.sampled_from(["cohort_day", [0, 2]])),
        "x_axis": _x_axis(draw, ("date",)),
    }
    return out


@st.composite
def queries(draw, scenario: Scenario) -> list[dict[str, Any]]:
    ids = []
    templates: dict[str, str] = {}
    for kpi_id, body in scenario.kpis.items():
        if "template" not in body:
            ids.append(kpi_id)
            continue
        values = scenario.cohort_days if body["template"] == "cohort_day" else body["template"]
        for value in values:
            templates[kpi_id.replace("{}", str(value))] = kpi_id
            ids.append(kpi_id.replace("{}", str(value)))
    groupable = [p for p in scenario.props if p.body.get("can_group_by")]
    filterable = [Prop(n, t, "base", {}) for n, t in BASE_TYPES.items() if n != "date"] + scenario.props
    out = []
    for kpi_id in ids:
        body = scenario.kpis[templates.get(kpi_id, kpi_id)]
        axis = draw(st.sampled_from(sorted(body["x_axis"])))
        grain = draw(st.sampled_from(["day", "day", "week", "month"])) if axis == "date" else "day"
        first = scenario.start + draw(st.integers(-2, scenario.n_days - 1)) * DAY
        last = first + draw(st.integers(0, scenario.n_days + 2)) * DAY
        by = []
        if groupable or axis == "date":
            choice = draw(st.sampled_from([None, None, "cohort_day"] + [p.id for p in groupable]))
            if choice and not (choice == "cohort_day" and axis == "cohort_day"):
                by = [choice]
        filters = []
        if draw(st.booleans()):
            prop = draw(st.sampled_from(filterable))
            filters.append((prop.id, *_filter_value(draw, prop, scenario.start, scenario.n_days)))
        out.append({"kpi": kpi_id, "x_axis": axis, "grain": grain, "from": first, "to": last, "by": by,
                    "filters": filters})
    return out


# ----------------------------------------------------------------------------- scenario


@st.composite
def scenarios(draw, with_kpis: bool = False) -> Scenario:
    data = draw(_event_data())
    tables, columns = _tables(data["options"])
    active_days = draw(st.sampled_from([1, 2, 3, 5]))
    cohort_days = sorted(draw(st.sets(st.sampled_from([0, 1, 2, 3, 7]), min_size=1, max_size=4)))
    settings: dict[str, Any] = {}
    if draw(st.integers(0, 5)) == 0:
        settings["end_date"] = data["start"] + draw(st.integers(2, data["n_days"] - 1)) * DAY
    props = draw(properties(data["start"], data["n_days"], active_days))
    scenario = Scenario(data["start"], data["n_days"], active_days, cohort_days, settings, tables, columns,
                        data["rows"], props)
    if with_kpis:
        scenario.kpis = draw(kpis(props))
        scenario.queries = draw(queries(scenario))
    return scenario


# ------------------------------------------------------------------------------- disk


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_project(scenario: Scenario, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    entity = root / "userentity"
    (entity / "events").mkdir(parents=True, exist_ok=True)
    (entity / "properties").mkdir(exist_ok=True)
    (root / "asemic.yml").write_text(yaml.safe_dump({"warehouse": {"type": "duckdb", "path": "warehouse.duckdb"}}))
    (entity / "config.yml").write_text(yaml.safe_dump(scenario.entity_yaml(), sort_keys=False))
    for event_id, body in scenario.tables.items():
        (entity / "events" / f"{event_id}.yml").write_text(yaml.safe_dump(body, sort_keys=False))
    (entity / "properties" / "generated.yml").write_text(
        yaml.safe_dump({"properties": {p.id: p.body for p in scenario.props}}, sort_keys=False))
    if scenario.kpis:
        (entity / "kpis").mkdir(exist_ok=True)
        (entity / "kpis" / "generated.yml").write_text(yaml.safe_dump({"kpis": scenario.kpis}, sort_keys=False))
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA raw")
        for event_id, body in scenario.tables.items():
            cols = scenario.columns[event_id]
            ddl = ", ".join(f"{_quoted(c)} {DUCKDB_TYPES[t]}" for c, t in cols.items())
            con.execute(f"CREATE TABLE {body['table_name']} ({ddl})")
            rows = scenario.rows[event_id]
            if rows:
                marks = ", ".join("?" for _ in cols)
                con.executemany(f"INSERT INTO {body['table_name']} VALUES ({marks})",
                                [[row.get(c) for c in cols] for row in rows])
    return root


def reference_rows(scenario: Scenario) -> dict[str, list[dict[str, Any]]]:
    return {event_id: [{c: row.get(c) for c in scenario.columns[event_id]} for row in rows]
            for event_id, rows in scenario.rows.items()}
