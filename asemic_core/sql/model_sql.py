"""SQL that computes the logical model (SEMANTICS 4-5): one row per (user, day) with
the value of every requested property at the end of that day.

The query is a chain of stages. Stage 0 is the spine (the user-days to compute) joined with
one GROUP BY per event table and the registration row. Each later stage adds the
properties whose inputs the previous stages provide: computed properties as row
expressions, windows and lifetime properties as window functions over the user's days.

Two spines (sql/sparse.py): the sparse layout computes only each user's change days and
frames windows by day number (RANGE), counting the days between stored rows
arithmetically; the dense layout (configs whose change days have no short description, and
the reference for tests) computes every day, where a frame of N rows is exactly N days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlglot import exp

from asemic_core.sql.literals import literal
from asemic_core.config.models import DataType
from asemic_core.semantic.graph import dependency_closure, property_inputs
from asemic_core.semantic.model import ResolvedProject, ResolvedProperty
from asemic_core.semantic import base_properties
from asemic_core.semantic.base_properties import ACTIVITY_BASED
from asemic_core.sql.expressions import parse_expression, to_tree
from asemic_core.sql.render import ENGINE_DIALECT
from asemic_core.sql.model_users import activity_lower_bound, prior_activity_cte, registration_value, users_cte
from asemic_core.sql.sources import (
    activity_relation,
    event_properties_query,
    quoted,
)
from asemic_core.sql.types import cast
from asemic_core.sql import sparse
from asemic_core.sql.sparse import (DAY_NUMBER, PREVIOUS_ACTIVE, REG_DAY, SparseLayout, ends_before_the_day,
                                   layout_of, next_day_column)
from asemic_core.sql.sparse import date_literal as _date, last_rows as _last_rows, within as _within

ACTIVE = "__active"
PRESENT = "__present_{}"
BASE_COLUMNS = ("entity_id", "date")
WINDOW_KINDS = {"sliding_window_property", "fixed_window_property", "lifetime_property"}


@dataclass
class ModelRequest:
    """What to compute: these properties (plus what they need) for these days."""

    properties: list[str]
    day_from: dt.date  # first day in the output
    day_to: dt.date  # last day of the model (end date)
    user_filter: exp.Expression | None = None  # predicate over column "entity_id"
    # The first day the computation may start at: lifetime and windows need the
    # user's history, so this is None (each user's registration) unless the caller
    # knows the requested properties do not look back that far.
    compute_from: dt.date | None = None
    extra_columns: list[str] = field(default_factory=list)
    # Incremental work: days before ``resume_from`` are already materialized. Windows read
    # those days' stored values (``stored_sql``: entity_id, date and the stored columns, for
    # the days from ``compute_from``); lifetime and fixed windows continue from the stored
    # value of the day before ``resume_from``.
    resume_from: dt.date | None = None
    stored_sql: str | None = None
    # The sparse layout stores only the rows of days on which a value can change
    # (sql/sparse.py); ``dense`` computes every day (the layout for configs without a short
    # description of their change days, and the reference the tests compare with).
    dense: bool = False
    # Days the spine must hold besides the change days (a relation of entity_id, date): a
    # partial update keeps the stored rows' days when the layout's change days moved.
    extra_days_sql: str | None = None
    # Incremental work without the event history (jobs/user_state.py): ``users_sql`` (a
    # users table: entity_id, registration_ts, registration_date, the registration columns)
    # instead of the registration tables; ``activity_state_sql`` (entity_id, last_active_date:
    # each entity's last activity through ``activity_state_day``, a day before ``resume_from``)
    # instead of the activity up to that day.
    users_sql: str | None = None
    activity_state_sql: str | None = None
    activity_state_day: dt.date | None = None
    # With ``resume_from`` and ``activity_state_sql``: the state holds only the entities
    # without a stored row before ``resume_from`` (registered from that day on); every other
    # user's last activity is the ``last_activity_date`` of their last stored row, which
    # ``stored_sql`` holds (jobs/user_state.py, ``stored_state``).
    state_in_stored_rows: bool = False
    # Also output PREVIOUS_ACTIVE (on each activity day, the user's activity day before it):
    # a job writes it when the table it writes into has the column (or is written whole).
    previous_active: bool = False
    # The sparse layout with the next-day values of the windows that end before the day
    # (sql/sparse.py ``NEXT_DAY``), output beside each; False: without them, every change
    # day (a job writing into a table written before those columns existed).
    next_day: bool = True


# The activity-based last active day. days_since_last_active always derives from it, even
# when the config redefines last_activity_date: populations must not depend on a user's formula.
LAST_ACTIVE = "__last_active"


def _last_active_value() -> exp.Expression:
    return exp.IgnoreNulls(this=exp.LastValue(this=quoted(ACTIVE)))


class ModelQueryBuilder:
    def __init__(self, project: ResolvedProject, dialect: str = ENGINE_DIALECT) -> None:
        self.project = project
        self.dialect = dialect

    # -- stage 0 ------------------------------------------------------------------
    def _spine(self, request: ModelRequest) -> exp.Select:
        start = quoted("registration_date", "u")
        if request.compute_from is not None:
            start = exp.func("GREATEST", start, _date(request.compute_from))
        days = exp.func("generate_series", start, _date(request.day_to), exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY")))
        return exp.select(
            quoted("entity_id", "u"),
            exp.alias_(cast(exp.Unnest(expressions=[days]), DataType.DATE), "date", quoted=True),
        ).from_(exp.to_table("users").as_("u"))

    def layout(self, request: ModelRequest) -> SparseLayout:
        if request.dense:
            return SparseLayout(False, reason="dense requested")
        return layout_of(self.project, [p.id for p in self.project.properties.values() if not p.is_base],
                         next_day=request.next_day)

    def build(self, request: ModelRequest) -> exp.Select:
        project = self.project
        self._resume = request.resume_from
        self._layout = self.layout(request)
        self._sparse = self._layout.sparse
        self._day_to = request.day_to
        closure = dependency_closure(project, request.properties + request.extra_columns)
        props = [project.properties[name] for name in closure]
        ctes: list[tuple[str, exp.Expression]] = [("users", users_cte(project, request, self.dialect))]
        if not self._sparse:
            ctes.append(("spine", self._spine(request)))
        # Event values before the resume day are the stored ones (window sources are overlaid,
        # lifetime values continue): an incremental job reads the events from that day on.
        first_read = request.resume_from or request.compute_from
        lower = _date(first_read) if first_read else None
        upper = _date(request.day_to)

        # One GROUP BY per event table for the event properties it feeds.
        by_event: dict[str, list[ResolvedProperty]] = {}
        for prop in props:
            if prop.kind == "event_property":
                by_event.setdefault(prop.source_event, []).append(prop)
        event_ctes: dict[str, str] = {}
        for index, (event_id, event_props) in enumerate(sorted(by_event.items())):
            name = f"ev{index}"
            query = event_properties_query(project, event_id, event_props, self.dialect)
            query = query.select(exp.alias_(exp.true(), PRESENT.format(index), quoted=True), copy=False)
            ctes.append((name, _within(query, lower, upper, request.user_filter)))
            event_ctes[event_id] = name

        needs_activity = any(p.id in ACTIVITY_BASED and p.is_base for p in props)
        if needs_activity:
            activity = exp.select(quoted("entity_id"), quoted("date")).from_(
                exp.alias_(activity_relation(project, self.dialect), "a", table=True))
            ctes.append(("activity", _within(activity, activity_lower_bound(request), upper, request.user_filter)))
            if not request.state_in_stored_rows:  # else after prev_state, which it reads
                ctes.append(("prior_activity", prior_activity_cte(request, self.dialect)))
            if request.resume_from is not None and request.activity_state_sql is None:
                # days are marked active from the resume day on (before it, prior_activity
                # gives the last one): that join reads those days' activity, not the history
                ctes.append(("recent_activity", _within(activity.copy(), _date(request.resume_from), upper,
                                                        request.user_filter)))

        columns: list[exp.Expression] = [quoted("entity_id", "s"), quoted("date", "s"),
                                         quoted("registration_date", "u")]
        available = {"entity_id", "date", "registration_date"}
        joins: list[tuple[exp.Expression, list[str]]] = []
        for index, (event_id, name) in enumerate(event_ctes.items()):
            joins.append((exp.to_table(name).as_(name), ["entity_id", "date"]))
            present = quoted(PRESENT.format(list(event_ctes).index(event_id)), name)
            for prop in by_event[event_id]:
                default = literal(prop.definition.default_value)
                value = exp.Case(ifs=[exp.If(this=present, true=quoted(prop.id, name))],
                                 default=cast(default, prop.data_type))
                columns.append(exp.alias_(value, prop.id, quoted=True))
                available.add(prop.id)
        # Computing every day of its users (a refresh), a registration value no other property
        # reads is joined to the last stage's rows instead: carried through the window stage,
        # each is a column more that its sort moves (the demo's three strings: 11 % of a
        # refresh's compute at 100,000 x 180). A job resuming from stored rows computes a few
        # days per user: there the second join with every user costs more than it saves (a
        # one-day update at 1,000,000 x 365 measured 3.56 s instead of 3.36).
        read = {name for p in props for name in property_inputs(project, p)}
        joined_last = [p for p in props if p.kind == "registration_property" and p.id not in read
                       and request.resume_from is None]
        for prop in props:
            if prop.kind == "registration_property":
                if prop not in joined_last:
                    columns.append(exp.alias_(registration_value(project, prop, "u"), prop.id, quoted=True))
                available.add(prop.id)
        if needs_activity:
            recent = request.resume_from is not None and request.activity_state_sql is None
            joins.append((exp.to_table("recent_activity" if recent else "activity").as_("act"), ["entity_id", "date"]))
            joins.append((exp.to_table("prior_activity").as_("pa"), ["entity_id"]))
            active = exp.Not(this=exp.Is(this=quoted("entity_id", "act"), expression=exp.Null()))
            if request.resume_from is not None:  # before it: prior_activity (the spine may skip those days)
                active = exp.and_(active, exp.GTE(this=quoted("date", "s"), expression=_date(request.resume_from)))
            columns.append(exp.alias_(exp.Case(ifs=[exp.If(this=active, true=quoted("date", "s"))]), ACTIVE, quoted=True))
            columns.append(quoted("__prior_activity", "pa"))
            available |= {ACTIVE, "__prior_activity"}

        resume = request.resume_from
        self._overlay: set[str] = set()
        self._prev: set[str] = set()
        if request.activity_state_sql is not None and (resume is None or request.activity_state_day >= resume):
            raise ValueError("the activity state must end before resume_from")
        if request.state_in_stored_rows and (resume is None or request.activity_state_sql is None):
            raise ValueError("state_in_stored_rows needs resume_from and activity_state_sql")
        if resume is not None:
            if request.stored_sql is None:
                raise ValueError("resume_from needs stored_sql")
            self._overlay = overlay_columns(props)
            self._prev = {p.id for p in props if continues_from_state(p)}
            stored = exp.maybe_parse(request.stored_sql, dialect=self.dialect)
            prev_day = resume - dt.timedelta(days=1)
            ctes.append(("stored_rows", stored))
            # sparse: each user has a row on the first of the month (or registered later)
            since = prev_day.replace(day=1) if self._sparse else None
            ctes.append(("prev_state", _last_rows("stored_rows", prev_day, since)))
            if needs_activity and request.state_in_stored_rows:
                ctes.append(("prior_activity", prior_activity_cte(request, self.dialect, stored_state="prev_state")))
            # Sparse, output from the resume day on: windows read only the rows that differ
            # from a gap day (sparse.window_tail); the last activity before it is prior_activity's.
            tail = (sparse.window_tail(project, self._layout, "stored_rows", self._overlay, request.compute_from, resume)
                    if self._sparse and request.day_from >= resume else exp.select(exp.Star()).from_("stored_rows"))
            ctes.append(("stored", tail))
            joins.append((exp.to_table("stored").as_("st"), ["entity_id", "date"]))
            joins.append((exp.to_table("prev_state").as_("ps"), ["entity_id"]))
            for name in sorted(self._overlay):
                columns.append(exp.alias_(quoted(name, "st"), f"__stored_{name}", quoted=True))
            for name in sorted(self._prev):
                columns.append(exp.alias_(quoted(name, "ps"), f"__prev_{name}", quoted=True))
            # Event and registration properties are computed in this stage: overlay them here.
            for index, column in enumerate(columns):
                alias = column.alias if isinstance(column, exp.Alias) else None
                if alias in self._overlay and alias in available:
                    columns[index] = exp.alias_(self._overlaid(alias, column.this, "s"), alias, quoted=True)

        if self._sparse:
            values = {event_id: (name, {p.id for p in by_event[event_id]}) for event_id, name in event_ctes.items()}
            ctes += sparse.spine_ctes(self.project, self._layout, request, self.dialect, values)
            columns.append(exp.alias_(sparse.day_number(quoted("date", "s")), DAY_NUMBER, quoted=True))
            columns.append(exp.alias_(sparse.day_number(quoted("registration_date", "u")), REG_DAY, quoted=True))
        # stage0 and its joins are this call's own trees: joined without a copy each time
        stage0 = exp.select(*columns).from_(exp.to_table("spine").as_("s"), copy=False).join(
            exp.to_table("users").as_("u"), on=exp.EQ(this=quoted("entity_id", "s"), expression=quoted("entity_id", "u")),
            copy=False)
        for table, keys in joins:
            alias = table.alias
            condition = exp.and_(*[exp.EQ(this=quoted(k, "s"), expression=quoted(k, alias)) for k in keys], copy=False)
            stage0 = stage0.join(table, on=condition, join_type="LEFT", copy=False)
        ctes.append(("stage0", stage0))

        pending = [p for p in props if p.id not in available]
        previous = "stage0"
        number = 0
        # The last active day is a running window: it is computed in the first stage, with the
        # windows whose sources stage 0 holds, so that they share one sort of the rows.
        last_active = previous_active = None
        if needs_activity:
            # ACTIVE is the row's day or NULL, and the rows are in day order: its running MAX is
            # its last non-NULL value, which DuckDB computes without a segment tree (a refresh
            # at 100,000 x 180: ~0.2 s of CPU less per window)
            running = exp.Window(this=_last_active_value(), partition_by=[quoted("entity_id")],
                                 order=self._order(), spec=_frame(None, 0))
            last_active = cast(exp.Coalesce(this=running, expressions=[quoted("__prior_activity")]), DataType.DATE)
            if request.previous_active:  # the same sort: rows before this one
                before = exp.Window(this=_last_active_value(), partition_by=[quoted("entity_id")],
                                    order=self._order(), spec=_frame(None, -1))
                previous_active = exp.Case(ifs=[exp.If(
                    this=exp.Not(this=exp.Is(this=quoted(ACTIVE), expression=exp.Null())),
                    true=cast(exp.Coalesce(this=before, expressions=[quoted("__prior_activity")]), DataType.DATE))])
        while pending:
            ready = [p for p in pending if all(d in available for d in self._inputs(p))]
            if not ready and last_active is None:  # pragma: no cover - dependency_closure guarantees progress
                raise AssertionError(f"cannot order {[p.id for p in pending]}")
            number += 1
            name = f"stage{number}"
            select = exp.select(exp.Star()).from_(exp.to_table(previous))
            if last_active is not None:
                select = select.select(exp.alias_(last_active, LAST_ACTIVE, quoted=True), copy=False)
                available.add(LAST_ACTIVE)
                last_active = None
                if previous_active is not None:
                    select = select.select(exp.alias_(previous_active, PREVIOUS_ACTIVE, quoted=True))
            for prop in ready:
                expression = self._expression(prop, request.resume_from)
                if prop.id in self._overlay:
                    expression = self._overlaid(prop.id, expression, None)
                select = select.select(exp.alias_(expression, prop.id, quoted=True, copy=False), copy=False)
                if request.next_day and ends_before_the_day(prop):  # the same sort: its frame a day later
                    select = select.select(exp.alias_(cast(self._sliding(prop, 1), prop.data_type),
                                                      next_day_column(prop.id), quoted=True, copy=False), copy=False)
            ctes.append((name, select))
            available |= {p.id for p in ready}
            pending = [p for p in pending if p.id not in available]
            previous = name

        last = {p.id: p for p in joined_last}

        def out(name: str) -> exp.Expression:
            if name in last:
                return exp.alias_(registration_value(project, last[name], "u"), name, quoted=True)
            return quoted(name, "x") if last else quoted(name)

        output = [out("entity_id"), out("date")] + [out(p.id) for p in props if p.id not in BASE_COLUMNS]
        output += [out(next_day_column(p.id)) for p in props if request.next_day and ends_before_the_day(p)]
        if previous_active is not None:
            output.append(out(PREVIOUS_ACTIVE))
        final = exp.select(*output).from_(exp.to_table(previous).as_("x") if last else exp.to_table(previous))
        if last:
            final = final.join(exp.to_table("users").as_("u"), on=exp.EQ(
                this=quoted("entity_id", "x"), expression=quoted("entity_id", "u")), copy=False)
        final = final.where(exp.GTE(this=out("date"), expression=_date(request.day_from)))
        for name, query in ctes:  # the query and the CTEs are this call's own trees: no copy each time
            final = final.with_(name, as_=query, copy=False)
        return final

    def _overlaid(self, name: str, expression: exp.Expression, spine: str | None) -> exp.Expression:
        """Before the resume day, a column holds its stored (already correct) value.

        In stage 0 (``spine`` = the spine's alias) the stored row is joined as ``st``;
        later stages carry it as the column ``__stored_<name>``.
        """
        before = exp.LT(this=quoted("date", spine), expression=_date(self._resume))
        stored = quoted(name, "st") if spine else quoted(f"__stored_{name}")
        return exp.Case(ifs=[exp.If(this=before, true=stored)], default=expression)

    def _inputs(self, prop: ResolvedProperty) -> tuple[str, ...]:
        if prop.is_base and prop.id in ACTIVITY_BASED:
            return (LAST_ACTIVE,)
        return property_inputs(self.project, prop)

    # -- one property ----------------------------------------------------------------
    def _expression(self, prop: ResolvedProperty, resume: dt.date | None = None) -> exp.Expression:
        if prop.is_base:
            return self._base(prop)
        match prop.kind:
            case "computed_property":
                return cast(self._computed(prop), prop.data_type)
            case "sliding_window_property":
                return cast(self._sliding(prop), prop.data_type)
            case "fixed_window_property":
                return cast(self._fixed(prop, resume), prop.data_type)
            case "lifetime_property":
                return cast(self._lifetime(prop, resume), prop.data_type)
        raise AssertionError(f"{prop.id}: kind {prop.kind} belongs to stage 0")

    def _base(self, prop: ResolvedProperty) -> exp.Expression:
        match prop.id:
            case "cohort_day":
                return cast(exp.DateDiff(this=quoted("date"), expression=quoted("registration_date"), unit=exp.var("DAY")),
                            DataType.INTEGER)
            case "cohort_size":
                return cast(exp.Literal.number(1), DataType.INTEGER)
            case base_properties.LAST_ACTIVITY_DATE:
                return quoted(LAST_ACTIVE)
            case base_properties.DAYS_SINCE_LAST_ACTIVE:
                return cast(exp.DateDiff(this=quoted("date"), expression=quoted(LAST_ACTIVE), unit=exp.var("DAY")),
                            DataType.INTEGER)
        raise AssertionError(prop.id)

    def _column_of(self, name: str) -> exp.Expression:
        prop = self.project.get_property(name)
        return quoted(prop.id if prop else name)

    def computed_expression(self, prop: ResolvedProperty) -> exp.Expression:
        """A computed property's value over the columns of its inputs (no cast)."""
        return self._computed(prop)

    def _computed(self, prop: ResolvedProperty) -> exp.Expression:
        definition = prop.definition
        parsed = parse_expression(definition.select, allow_aggregates=False)
        value = to_tree(parsed, lambda namespace, name: self._column_of(name), dialect=self.dialect)
        if not definition.value_mappings:
            return value
        ifs = []
        for mapping in definition.value_mappings:
            new_value = cast(literal(mapping.new_value), prop.data_type)
            if mapping.range is None:
                condition = exp.EQ(this=value.copy(), expression=literal(mapping.constant))
            else:
                parts = []
                if mapping.range.from_ is not None:
                    parts.append(exp.GTE(this=value.copy(), expression=literal(mapping.range.from_)))
                if mapping.range.to is not None:
                    parts.append(exp.LTE(this=value.copy(), expression=literal(mapping.range.to)))
                condition = exp.and_(*parts) if parts else exp.false()
            ifs.append(exp.If(this=condition, true=new_value))
        return exp.Case(ifs=ifs, default=exp.Null())

    def _source(self, prop: ResolvedProperty) -> exp.Expression:
        return self._column_of(prop.source)

    def _gap(self, prop: ResolvedProperty):
        """The value the source of ``prop`` holds on days without events (sparse layout)."""
        return self._layout.gap_values.get(prop.source)

    def _sparse_sliding(self, prop: ResolvedProperty, shift: int = 0) -> exp.Expression:
        value = self._source(prop)
        aggregate = _window_aggregate(prop.definition.window_function, value)
        return sparse.sliding(self.project, prop, value, aggregate, self._gap(prop), self._day_to, shift)

    def _sliding(self, prop: ResolvedProperty, shift: int = 0) -> exp.Expression:
        """The window's value ``shift`` days after the row's day (its frame moved)."""
        definition = prop.definition
        if self._sparse:
            return self._sparse_sliding(prop, shift)
        aggregate = _window_aggregate(definition.window_function, self._source(prop))
        return exp.Window(this=aggregate, partition_by=[quoted("entity_id")], order=self._order(),
                          spec=_frame(definition.relative_days_from + shift, definition.relative_days_to + shift))

    def _fixed(self, prop: ResolvedProperty, resume: dt.date | None = None) -> exp.Expression:
        definition = prop.definition
        low = definition.date_from
        continuing = resume is not None and continues_from_state(prop)
        if continuing:
            low = max(low, resume)
        inside = exp.Between(this=quoted("date"), low=_date(low), high=_date(definition.date_to))
        value = exp.Case(ifs=[exp.If(this=inside, true=self._source(prop))])
        aggregate = _window_aggregate(definition.window_function, value)
        running = exp.Window(this=aggregate, partition_by=[quoted("entity_id")], order=self._order(),
                             spec=_frame(None, 0))
        if self._sparse and self._gap(prop) is not None:
            frame = sparse.range_frame(None, 0)
            day = quoted(DAY_NUMBER)
            first = sparse.greatest(sparse.end_day(low), quoted(REG_DAY))
            last = sparse.least(day, sparse.end_day(definition.date_to))
            gap_days = exp.Sub(this=sparse.existing_days(first, last), expression=sparse.stored_rows_in(frame, inside))
            source = self.project.properties[prop.source]
            running = sparse.with_gap_days(definition.window_function, value, sparse.over(aggregate, frame), frame, gap_days,
                                           self._gap(prop), source.data_type)
        if continuing:
            running = _merge(definition.window_function, quoted(f"__prev_{prop.id}"), running)
        started = exp.GTE(this=quoted("date"), expression=_date(definition.date_from))
        return exp.Case(ifs=[exp.If(this=started, true=running)], default=exp.Null())

    def _lifetime(self, prop: ResolvedProperty, resume: dt.date | None = None) -> exp.Expression:
        function = prop.definition.merge_function
        source = self._source(prop)
        if resume is not None:
            # Continue from the stored value of the day before: fold only the new days.
            source = exp.Case(ifs=[exp.If(this=exp.GTE(this=quoted("date"), expression=_date(resume)), true=source)])
        window = self._lifetime_window(function, source)
        if resume is None:
            return window
        return _merge(function, quoted(f"__prev_{prop.id}"), window)

    def _lifetime_window(self, function: str, source: exp.Expression) -> exp.Expression:
        match function:
            case "sum":
                aggregate = exp.Sum(this=source)
            case "min":
                aggregate = exp.Min(this=source)
            case "max":
                aggregate = exp.Max(this=source)
            case "first_value":
                aggregate = exp.IgnoreNulls(this=exp.FirstValue(this=source))
            case "last_value":
                aggregate = exp.IgnoreNulls(this=exp.LastValue(this=source))
            case other:  # pragma: no cover
                raise AssertionError(other)
        return exp.Window(this=aggregate, partition_by=[quoted("entity_id")], order=self._order(),
                          spec=_frame(None, 0))

    def _order(self) -> exp.Order:
        """The order of every window over a user's rows: the day number in the sparse layout
        (its RANGE frames need it; the running windows use it too, so that all windows of a
        stage share one sort), the date in the dense one."""
        if self._sparse:
            return exp.Order(expressions=[exp.Ordered(this=quoted(DAY_NUMBER))])
        return _order_by_date()


MERGEABLE_FIXED = {"sum", "count", "min", "max"}


def continues_from_state(prop: ResolvedProperty) -> bool:
    """Lifetime properties and mergeable fixed windows continue from a stored value."""
    if prop.kind == "lifetime_property":
        return True
    return prop.kind == "fixed_window_property" and prop.definition.window_function in MERGEABLE_FIXED


def overlay_columns(props: list[ResolvedProperty]) -> set[str]:
    """Columns whose values on earlier days are read (window sources): taken from storage."""
    return {p.source for p in props if p.kind in ("sliding_window_property", "fixed_window_property") and p.source}


def _merge(function: str, previous: exp.Expression, current: exp.Expression) -> exp.Expression:
    """merge(previous, current) with SQL's NULL rules (SEMANTICS 5.6)."""
    def null(e):
        return exp.Is(this=e.copy(), expression=exp.Null())

    match function:
        case "sum" | "count":
            if function == "count":
                return exp.Add(this=exp.Coalesce(this=previous, expressions=[exp.Literal.number(0)]), expression=current)
            combined = exp.Add(this=previous.copy(), expression=current.copy())
        case "min":
            combined = exp.func("LEAST", previous.copy(), current.copy())
        case "max":
            combined = exp.func("GREATEST", previous.copy(), current.copy())
        case "first_value":
            return exp.Coalesce(this=previous, expressions=[current])
        case "last_value":
            return exp.Coalesce(this=current, expressions=[previous])
        case other:  # pragma: no cover
            raise AssertionError(other)
    return exp.Case(ifs=[exp.If(this=null(previous), true=current.copy()), exp.If(this=null(current), true=previous.copy())],
                    default=combined)


def _window_aggregate(function: str, value: exp.Expression) -> exp.Expression:
    match function:
        case "sum":
            return exp.Sum(this=value)
        case "avg":
            return exp.Avg(this=value)
        case "count":
            return exp.Count(this=value)
        case "count_distinct":
            return exp.Count(this=exp.Distinct(expressions=[value]))
        case "min":
            return exp.Min(this=value)
        case "max":
            return exp.Max(this=value)
    raise AssertionError(function)  # pragma: no cover


def _order_by_date() -> exp.Order:
    return exp.Order(expressions=[exp.Ordered(this=quoted("date"))])


def _frame(start: int | None, end: int) -> exp.WindowSpec:
    """ROWS frame from ``start`` (None = unbounded) to ``end`` days relative to the row (dense layout)."""
    return sparse.frame("ROWS", start, end)
