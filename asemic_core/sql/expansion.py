"""The logical model (every user, every day) from stored rows (sparse or dense).

A stored row holds the user's values on its day; on the following days up to the user's
next stored row (gap days) the values are derived from it (sql/sparse.py): event
properties are their default, day counters advance, windows, lifetime and registration
values carry, computed properties are evaluated again over the derived inputs. A dense
table has no gap days, so the same SQL reads both layouts.

Two shapes: ``expand_range`` gives every day of a range (the stored rows must start at
the first day of the range's first month: each user has a row there, or registered
later); ``expand_at`` gives the values at given (entity_id, date) keys.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from asemic_core.config.models import DataType
from asemic_core.semantic import base_properties
from asemic_core.semantic.graph import property_inputs
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.literals import literal
from asemic_core.sql.render import ENGINE_DIALECT
from asemic_core.sql.sources import cte_name, join, named, quoted
from asemic_core.sql.sparse import (PREVIOUS_ACTIVE, date_literal, ends_before_the_day, next_day_column,
                                    next_day_windows)
from asemic_core.sql.types import cast

ROW_DATE = "__row_date"
DAY = "__target_day"
KEYS = ("entity_id", "date")
EARLY = "__counter_rows"
SIGN = "__sign"  # +1 or -1: how a row counts (rows taking back others' values: -1)
ADVANCING = {base_properties.COHORT_DAY, base_properties.DAYS_SINCE_LAST_ACTIVE}


def day_counter_at(counter: str, n: int) -> exp.Expression:
    """The day a day counter (cohort_day, days_since_last_active) of the row reaches ``n``
    if nothing resets it: the row's date + (n - counter), as date + integer days (DuckDB
    and Spark both read it as a date)."""
    days = exp.Cast(this=exp.Paren(this=exp.Sub(this=exp.Literal.number(n), expression=quoted(counter))),
                    to=exp.DataType.build("INT"))
    return cast(exp.Add(this=quoted("date"), expression=days), DataType.DATE)


def month_start(day: dt.date) -> dt.date:
    """The first day stored rows must be read from to expand a range starting on ``day``."""
    return day.replace(day=1)


def needed_columns(project: ResolvedProject, columns: list[str], carried: frozenset[str] = frozenset()) -> list[str]:
    """``columns`` plus what their evaluation on gap days reads (inputs of computed
    properties, the next-day value of a window that ends before the day: ``NEXT_DAY``)."""
    order: list[str] = []
    later = next_day_windows(project)

    def visit(name: str) -> None:
        if name in order or name in KEYS:
            return
        prop = project.properties[name]
        if prop.kind == "computed_property" and name not in carried:
            for dep in property_inputs(project, prop):
                visit(dep)
        order.append(name)
        if name in later:
            order.append(next_day_column(name))

    for name in columns:
        visit(project.property_aliases.get(name, name))
    return order


def days_between(later: exp.Expression, earlier: exp.Expression) -> exp.Expression:
    """``later - earlier`` in days, an integer."""
    return cast(exp.DateDiff(this=later, expression=earlier, unit=exp.var("DAY")), DataType.INTEGER)


def _derived(project: ResolvedProject, name: str, read: list[str]) -> exp.Expression:
    """A non-computed column on the target day, from the anchor row (``r``); ``read``: the
    columns read from it."""
    on_row = exp.EQ(this=quoted(DAY, "t"), expression=quoted(ROW_DATE, "t"))
    prop = project.properties.get(name)
    stored = quoted(name, "t")
    if name == PREVIOUS_ACTIVE:  # set on activity days only
        return exp.Case(ifs=[exp.If(this=on_row, true=stored)], default=cast(exp.Null(), DataType.DATE))
    if prop is None:  # a column the config no longer defines (dropped by the job), a next-day value: as stored
        return stored
    if ends_before_the_day(prop) and next_day_column(name) in read:  # its value the day after the row, on every gap day
        return exp.Case(ifs=[exp.If(this=on_row, true=stored)], default=quoted(next_day_column(name), "t"))
    if prop.kind == "event_property":
        default = cast(literal(prop.definition.default_value), prop.data_type)
        return exp.Case(ifs=[exp.If(this=on_row, true=stored)], default=default)
    if prop.is_base and prop.id in ADVANCING:
        return cast(exp.Add(this=stored, expression=days_between(quoted(DAY, "t"), quoted(ROW_DATE, "t"))),
                    prop.data_type)
    return stored


def _finish(project: ResolvedProject, base: exp.Expression, columns: list[str],
            dialect: str, available: set[str] | None = None) -> exp.Select:
    """Values at each row of ``base``: the target (entity_id, __target_day), the day of its
    anchor row (__row_date) and the anchor row's stored columns.
    ``available``: the columns ``rows`` has (default: all that are needed); a computed
    column whose inputs are not all there keeps the anchor row's value."""
    from asemic_core.sql.model_sql import ModelQueryBuilder

    carried: frozenset[str] = frozenset()
    if available is not None:
        unknown = [c for c in columns if c not in project.properties]
        columns = [c for c in columns if c in project.properties]
        carried = frozenset(c for c in columns if project.properties[c].kind == "computed_property"
                            and not {n for n in needed_columns(project, [c]) if n in project.properties} <= available)
    else:
        unknown = []
    needed = needed_columns(project, columns, carried)
    if available is not None:  # rows without a window's next-day value store every change day of it
        needed = [c for c in needed if c in project.properties or c in available]
    computed = [c for c in needed if c in project.properties and project.properties[c].kind == "computed_property"
                and c not in carried]
    # every node here is built for this statement (``base`` too: the callers' own): no copies
    first = [quoted("entity_id", "t"), exp.alias_(quoted(DAY, "t"), "date", quoted=True, copy=False),
             exp.alias_(quoted(ROW_DATE, "t"), ROW_DATE, quoted=True, copy=False)]
    for name in dict.fromkeys([*needed, *unknown]):
        if name in computed:
            first.append(exp.alias_(quoted(name, "t"), f"__stored_{name}", quoted=True, copy=False))
        else:
            first.append(exp.alias_(_derived(project, name, needed), name, quoted=True, copy=False))
    stage = exp.select(*first, copy=False).from_(exp.alias_(base, "t", table=True, copy=False), copy=False)
    builder = ModelQueryBuilder(project, dialect)
    ctes: list[tuple[str, exp.Expression]] = [("x0", stage)]
    done = set(needed) - set(computed)
    pending = list(computed)
    while pending:
        ready = [c for c in pending if all(d in done or d in KEYS for d in property_inputs(project, project.properties[c]))]
        if not ready:  # pragma: no cover - needed_columns orders the inputs first
            raise AssertionError(f"cannot order {pending}")
        select = exp.select(exp.Star()).from_(named(ctes[-1][0]), copy=False)
        for name in ready:
            prop = project.properties[name]
            on_row = exp.EQ(this=quoted("date"), expression=quoted(ROW_DATE))
            value = cast(builder.computed_expression(prop), prop.data_type)
            select = select.select(exp.alias_(exp.Case(ifs=[exp.If(this=on_row, true=quoted(f"__stored_{name}"))],
                                                       default=value), name, quoted=True, copy=False), copy=False)
        ctes.append((f"x{len(ctes)}", select))
        done |= set(ready)
        pending = [c for c in pending if c not in done]
    final = exp.select(*[quoted(c) for c in (*KEYS, *[project.properties[c].id for c in columns if c not in KEYS],
                                             *unknown)]).from_(named(ctes[-1][0]), copy=False)
    for name, query in ctes:  # this call's own trees: no copy of the growing query each time
        final = final.with_(cte_name(name), as_=query, copy=False)
    return final


def expand_range(project: ResolvedProject, rows: exp.Expression, columns: list[str], day_from: dt.date,
                 day_to: dt.date, dialect: str = ENGINE_DIALECT, recent_days: int | None = None) -> exp.Select:
    """Every (user, day) of ``day_from`` .. ``day_to`` from ``rows`` (a relation of stored rows
    from ``month_start(day_from)`` to ``day_to`` at least, with the columns ``needed_columns``;
    the caller's own tree: it becomes part of the result, not copied).

    ``recent_days``: only the days within that many days of the user's last activity (and
    the stored rows), for a reader that sees nothing else (``days_since_last_active`` must
    be among the columns)."""
    within = exp.select(exp.Star()).from_(exp.alias_(rows, "s", table=True, copy=False))
    if recent_days is None:
        within = within.where(exp.Between(this=quoted("date"), low=date_literal(month_start(day_from)), high=date_literal(day_to)))
    else:
        # A row more than recent_days after the last activity derives no recent day, and ends
        # no recent row's days early (the day it is stored is past that row's reach), so such
        # rows are left out, and so are rows too old to reach day_from.
        since = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
        earliest = day_from - dt.timedelta(days=recent_days)
        within = within.where(exp.and_(
            exp.Between(this=quoted("date"), low=date_literal(earliest), high=date_literal(day_to)),
            exp.LTE(this=since, expression=exp.Literal.number(recent_days))))
    following = exp.Window(this=exp.func("LEAD", quoted("date")), partition_by=[quoted("entity_id")],
                           order=exp.Order(expressions=[exp.Ordered(this=quoted("date"))]))
    nexts = exp.select(exp.Star(), exp.alias_(following, "__next", quoted=True)).from_(
        exp.alias_(exp.Subquery(this=within), "w", table=True))
    last = exp.Coalesce(this=cast(exp.DateAdd(this=quoted("__next"), expression=exp.Literal.number(-1), unit=exp.var("DAY")),
                                  DataType.DATE), expressions=[date_literal(day_to)])
    last = exp.Case(ifs=[exp.If(this=exp.GT(this=last.copy(), expression=date_literal(day_to)), true=date_literal(day_to))], default=last)
    if recent_days is not None:
        since = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
        reach = day_counter_at(base_properties.DAYS_SINCE_LAST_ACTIVE, recent_days)
        last = exp.Case(ifs=[exp.If(this=exp.Is(this=since.copy(), expression=exp.Null()), true=quoted("date")),
                             exp.If(this=exp.LT(this=reach.copy(), expression=last.copy()), true=reach)], default=last)
    first = exp.Case(ifs=[exp.If(this=exp.LT(this=quoted("date"), expression=date_literal(day_from)), true=date_literal(day_from))],
                     default=quoted("date"))
    series = exp.func("generate_series", first, last.copy(), exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY")))
    base = exp.select(exp.Star(), exp.alias_(cast(exp.Unnest(expressions=[series]), DataType.DATE), DAY, quoted=True),
                      exp.alias_(quoted("date"), ROW_DATE, quoted=True)).from_(
        exp.alias_(exp.Subquery(this=nexts), "n", table=True)).where(exp.GTE(this=last, expression=date_literal(day_from)))
    return _finish(project, exp.Subquery(this=base), columns, dialect)


def expand_at(project: ResolvedProject, rows: exp.Expression, keys: exp.Expression, columns: list[str],
              dialect: str = ENGINE_DIALECT, available: set[str] | None = None) -> exp.Select:
    """The values at each (entity_id, date) of ``keys`` from ``rows`` (stored rows: each key's
    user has a row on or before the key's day)."""
    if isinstance(keys, exp.Select):
        keys = exp.Subquery(this=keys)
    marked = exp.Union(
        this=exp.select(quoted("entity_id"), quoted("date"), exp.alias_(exp.Literal.number(1), "__stored", quoted=True)).from_(
            exp.alias_(rows.copy(), "s", table=True, copy=False)),
        expression=exp.select(quoted("entity_id"), quoted("date"), exp.alias_(exp.Literal.number(0), "__stored", quoted=True)).from_(
            exp.alias_(keys, "k", table=True)), distinct=False)
    anchor = exp.Window(this=exp.Max(this=exp.Case(ifs=[exp.If(this=exp.EQ(this=quoted("__stored"), expression=exp.Literal.number(1)),
                                                              true=quoted("date"))])),
                        partition_by=[quoted("entity_id")],
                        order=exp.Order(expressions=[exp.Ordered(this=quoted("date")),
                                                     exp.Ordered(this=quoted("__stored"), desc=True)]),
                        spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"))
    ranked = exp.select(quoted("entity_id"), exp.alias_(quoted("date"), DAY, quoted=True), quoted("__stored"),
                        exp.alias_(anchor, ROW_DATE, quoted=True)).from_(exp.alias_(exp.Subquery(this=marked), "m", table=True))
    targets = exp.select(quoted("entity_id"), quoted(DAY), quoted(ROW_DATE)).from_(
        exp.alias_(exp.Subquery(this=ranked), "a", table=True)).where(exp.EQ(this=quoted("__stored"), expression=exp.Literal.number(0)))
    base = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("r")), quoted(DAY, "k"), quoted(ROW_DATE, "k")).from_(
        exp.alias_(exp.Subquery(this=targets), "k", table=True)).join(
        exp.alias_(rows, "r", table=True), join_type="LEFT",
        on=exp.and_(exp.EQ(this=quoted("entity_id", "k"), expression=quoted("entity_id", "r")),
                    exp.EQ(this=quoted(ROW_DATE, "k"), expression=quoted("date", "r"))))
    return _finish(project, exp.Subquery(this=base), columns, dialect, available)


def _expand_anchored(project: ResolvedProject, rows: exp.Expression, anchored: exp.Select, columns: list[str],
                     dialect: str) -> exp.Select:
    """``expand_at`` for keys whose anchor row is known: ``anchored`` has entity_id, the
    key's day (DAY) and the day of its user's last stored row on or before it (ROW_DATE)."""
    base = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("r")), quoted(DAY, "k"), quoted(ROW_DATE, "k")).from_(
        exp.alias_(exp.Subquery(this=anchored), "k", table=True)).join(
        exp.alias_(rows, "r", table=True),
        on=exp.and_(exp.EQ(this=quoted("entity_id", "k"), expression=quoted("entity_id", "r")),
                    exp.EQ(this=quoted(ROW_DATE, "k"), expression=quoted("date", "r"))))
    return _finish(project, exp.Subquery(this=base), columns, dialect)


def cohort_days(project: ResolvedProject, rows: exp.Expression, columns: list[str], days: list[int],
                day_from: dt.date, day_to: dt.date, dialect: str = ENGINE_DIALECT,
                registered: tuple[dt.date | None, dt.date | None] | None = None,
                materialize: bool = False) -> exp.Select:
    """Each user's days with cohort_day in ``days`` within ``day_from`` .. ``day_to``, from
    ``rows`` (stored rows with ``cohort_day`` among their columns; the caller's own tree,
    not copied): only the rows of the first max(days) days after registration are read,
    the anchors of those days.
    ``registered``: only users registered in that range (``registration_date`` must be a column).
    The early rows are one CTE for their uses (``materialize``: read once, DuckDB)."""
    cohort = quoted(base_properties.COHORT_DAY)
    early = exp.select(exp.Star()).from_(exp.alias_(rows, "s", table=True, copy=False)).where(
        exp.LTE(this=cohort.copy(), expression=exp.Literal.number(max(days))), copy=False)
    for bound, compare in zip(registered or (), (exp.GTE, exp.LTE)):
        if bound is not None:
            early = early.where(compare(this=quoted(base_properties.REGISTRATION_DATE), expression=date_literal(bound)),
                                copy=False)
    # a user's rows up to cohort day N all propose the same day (registration + N); its
    # anchor is the latest of them (a GROUP BY per cohorted day, no sort)
    anchored = None
    for day in days:
        moved = day_counter_at(base_properties.COHORT_DAY, day)
        per_day = exp.select(quoted("entity_id"), exp.alias_(moved.copy(), DAY, quoted=True, copy=False),
                             exp.alias_(exp.Max(this=quoted("date")), ROW_DATE, quoted=True)).from_(
            exp.alias_(named(EARLY), "e", table=True)).where(
            exp.LTE(this=cohort.copy(), expression=exp.Literal.number(day)),
            exp.Between(this=moved, low=date_literal(day_from), high=date_literal(day_to))).group_by(
            exp.Literal.number(1), exp.Literal.number(2))
        anchored = per_day if anchored is None else exp.Union(this=anchored, expression=per_day, distinct=False)
    anchored = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=anchored), "k", table=True))
    return _reading_first(_expand_anchored(project, named(EARLY), anchored, columns, dialect), early, materialize)


def cohort_day_from_registration(project: ResolvedProject, rows: exp.Expression, columns: list[str], n: int,
                                 day_from: dt.date, day_to: dt.date, active_days: int,
                                 activity: exp.Expression | None = None, dialect: str = ENGINE_DIALECT,
                                 materialize: bool = False, signed: bool = False) -> exp.Select:
    """``counter_days`` for ``cohort_day = n`` (1 <= n <= active_days) when every column
    but the counters is settled at registration (semantic/activity.py
    ``settled_at_registration``) and the reader reads days_since_last_active only in its
    population conditions (``<= active_days``, ``= 0``): no user's latest row is looked for.

    Each user registered n days before a day of the range is valued from the row of that
    day if stored (a day with activity or events), else from the registration row: event
    properties at their default, the rest the user's. days_since_last_active is then exact on the
    days with a stored row; on the others it is n where the user was active within
    active_days of the day and NULL where not: both conditions hold on it exactly where they hold on the exact
    value (n <= active_days, n > 0). The registration row decides that for a user last
    active at most active_days - n days before registering (the common case: active on the
    registration day); for the others, the activity days in between do.

    ``rows``: the activity part (rows of activity and registration days) from
    ``day_from - n`` to ``day_to``, or every stored row of those days when an event
    property over a table without activity is among the columns (its days may be outside
    the activity part), with cohort_day and days_since_last_active among its columns; the
    caller's own tree. ``activity``: a second read of it (entity_id, date,
    cohort_day, days_since_last_active), for the users the registration row leaves open;
    None when the caller knows there are none (every registration row of the range has
    days_since_last_active = 0) or n = 1 (no day in between).

    ``signed`` (the caller knows every registration row of the range has
    days_since_last_active = 0, so every registration row decides its user): no user is
    matched with its registration row, and entity_id is not read. The rows carry a sign
    (``SIGN``) and sum to the unsigned rows: each stored row of day n (+1), each
    registration row moved n days (+1), and each stored row of day n valued as its user's
    registration row moved would be (-1: its registration values are the row's own,
    event properties their default, days_since_last_active n). Only for sums and counts
    (query/kpi_delta.py ``signed_aggregated``); entity_id is NULL."""
    cohort, since = quoted(base_properties.COHORT_DAY), quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
    first, last = day_from - dt.timedelta(days=n), day_to - dt.timedelta(days=n)
    early = exp.select(exp.Star()).from_(exp.alias_(rows, "s", table=True, copy=False)).where(
        exp.In(this=cohort.copy(), expressions=[exp.Literal.number(0), exp.Literal.number(n)]),
        exp.Between(this=quoted("date"), low=date_literal(first), high=date_literal(day_to)), copy=False)

    def on_day(alias: str | None = None) -> exp.Expression:  # the rows of the range's days at cohort day n
        return exp.and_(exp.EQ(this=quoted(base_properties.COHORT_DAY, alias), expression=exp.Literal.number(n)),
                        exp.Between(this=quoted("date", alias), low=date_literal(day_from), high=date_literal(day_to)))

    def registered(alias: str | None = None) -> exp.Expression:  # the registration rows of those users
        return exp.and_(exp.EQ(this=quoted(base_properties.COHORT_DAY, alias), expression=exp.Literal.number(0)),
                        exp.Between(this=quoted("date", alias), low=date_literal(first), high=date_literal(last)))

    def decided(alias: str | None = None) -> exp.Expression:  # active within active_days of day n, by this row
        value = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE, alias)
        return exp.and_(exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())),
                        exp.LTE(this=value, expression=exp.Literal.number(active_days - n)))

    names = [c for c in needed_columns(project, columns) if c not in KEYS]
    if signed:  # entity_id is not read (a string column: its decoding was a third of the statement)
        early.set("expressions", [quoted("date"), *[quoted(c) for c in names]])
        return _reading_first(_signed_days(project, names, columns, n, on_day(), registered(), dialect), early, materialize)
    own = exp.select(quoted("entity_id"), quoted("date"), *[quoted(c) for c in names],
                     exp.alias_(quoted("date"), DAY, quoted=True), exp.alias_(quoted("date"), ROW_DATE, quoted=True)).from_(
        named(EARLY)).where(on_day(), copy=False)
    with_day = exp.select(quoted("entity_id")).from_(named(EARLY), copy=False).where(on_day(), copy=False)
    population = [exp.If(this=decided("g"), true=exp.Literal.number(0))]
    anchors = exp.select(quoted("entity_id", "g"), quoted("date", "g")).from_(exp.alias_(named(EARLY), "g", table=True))
    anchors = join(anchors, exp.alias_(exp.Subquery(this=with_day), "t", table=True, copy=False), side="LEFT",
                   on=exp.EQ(this=quoted("entity_id", "g"), expression=quoted("entity_id", "t")))
    if activity is not None and n > 1:
        undecided = exp.select(quoted("entity_id")).from_(named(EARLY), copy=False).where(registered(), exp.Not(this=exp.Paren(this=decided())),
                                                                     copy=False)
        between = exp.select(quoted("entity_id")).distinct().from_(exp.alias_(activity, "a", table=True, copy=False)).where(
            exp.Between(this=cohort.copy(), low=exp.Literal.number(1), high=exp.Literal.number(n - 1)),
            exp.EQ(this=since.copy(), expression=exp.Literal.number(0)),
            exp.Between(this=quoted("date"), low=date_literal(first + dt.timedelta(days=1)),
                        high=date_literal(day_to - dt.timedelta(days=1))),
            exp.In(this=quoted("entity_id"), query=exp.Subquery(this=undecided)), copy=False)
        anchors = join(anchors, exp.alias_(exp.Subquery(this=between), "v", table=True, copy=False), side="LEFT",
                       on=exp.EQ(this=quoted("entity_id", "g"), expression=quoted("entity_id", "v")))
        population.append(exp.If(this=exp.Not(this=exp.Is(this=quoted("entity_id", "v"), expression=exp.Null())),
                                 true=exp.Literal.number(0)))
    since_type = project.properties[base_properties.DAYS_SINCE_LAST_ACTIVE].data_type
    stand_in = cast(exp.Case(ifs=population, default=exp.Null()), since_type)
    anchors = anchors.select(*[exp.alias_(stand_in.copy(), c, quoted=True) if c == base_properties.DAYS_SINCE_LAST_ACTIVE
                               else quoted(c, "g") for c in names],
                             exp.alias_(cast(exp.Add(this=quoted("date", "g"), expression=exp.Literal.number(n)), DataType.DATE),
                                        DAY, quoted=True),
                             exp.alias_(quoted("date", "g"), ROW_DATE, quoted=True), copy=False)
    anchors = anchors.where(registered("g"), exp.Is(this=quoted("entity_id", "t"), expression=exp.Null()), copy=False)
    base = exp.union(own, anchors, distinct=False, copy=False)
    return _reading_first(_finish(project, exp.Subquery(this=base), columns, dialect), early, materialize)


def _no_entity(project: ResolvedProject) -> exp.Expression:
    """A NULL entity_id of the entity's type: a signed row stands for no user in particular."""
    return exp.alias_(cast(exp.Null(), project.properties[base_properties.ENTITY_ID].data_type), "entity_id", quoted=True)


def _signed_days(project: ResolvedProject, names: list[str], columns: list[str], n: int, on_day: exp.Expression,
                 registered: exp.Expression, dialect: str) -> exp.Select:
    """The signed rows of ``cohort_day_from_registration`` (``signed``), from EARLY."""
    def term(where: exp.Expression, sign: int, target_shift: int, row_shift: int, as_registration: bool) -> exp.Select:
        values = []
        for name in names:
            if as_registration and name in ADVANCING:  # the registration row: counters at 0 (decided: active)
                values.append(exp.alias_(cast(exp.Literal.number(0), project.properties[name].data_type), name, quoted=True))
            else:
                values.append(quoted(name))
        day = quoted("date")
        return exp.select(_no_entity(project), quoted("date"), *values,
                          exp.alias_(cast(exp.Add(this=day.copy(), expression=exp.Literal.number(target_shift)), DataType.DATE)
                                     if target_shift else day.copy(), DAY, quoted=True),
                          exp.alias_(cast(exp.Sub(this=day.copy(), expression=exp.Literal.number(row_shift)), DataType.DATE)
                                     if row_shift else day.copy(), ROW_DATE, quoted=True),
                          exp.alias_(exp.Literal.number(sign), SIGN, quoted=True)).from_(named(EARLY), copy=False).where(
            where, copy=False)

    own = term(on_day.copy(), 1, 0, 0, False)
    moved = term(registered, 1, n, 0, True)
    taken_back = term(on_day, -1, 0, n, True)
    base = exp.union(exp.union(own, moved, distinct=False, copy=False), taken_back, distinct=False, copy=False)
    return _finish(project, exp.Subquery(this=base), [*columns, SIGN], dialect, available=set(names))


def cohort_days_from_registration(project: ResolvedProject, rows: exp.Expression, columns: list[str], days: list[int],
                                  day_from: dt.date, day_to: dt.date,
                                  registered: tuple[dt.date | None, dt.date | None] | None = None,
                                  dialect: str = ENGINE_DIALECT, materialize: bool = False,
                                  signed: bool = False) -> exp.Select:
    """``cohort_days`` when every column but cohort_day is settled at registration
    (semantic/activity.py ``settled_at_registration``; no days_since_last_active): each
    user's cohorted day N is the stored row of that day (active), else the registration
    row moved N days (event properties at their default, the rest the user's). Only the
    rows of the cohorted days are read; no user's latest row is looked for.
    ``rows``: the activity part (rows of activity and registration days) of the users'
    first max(days) days, or every stored row of them (an event property over a table
    without activity), with cohort_day among its columns; the caller's own tree.

    ``signed``: no user is matched with its registration row, and entity_id is not read
    (NULL): each stored row of a cohorted day (+1), each registration row moved N days
    (+1), and each stored row of a cohorted day N > 0 valued as its user's registration
    row moved would be (-1: its registration values are the row's own, event properties
    their default), with a sign (``SIGN``) each; for sums and counts
    (query/kpi_delta.py ``signed_aggregated``)."""
    cohort = quoted(base_properties.COHORT_DAY)
    read = sorted({0, *days})
    early = exp.select(exp.Star()).from_(exp.alias_(rows, "s", table=True, copy=False)).where(
        exp.In(this=cohort.copy(), expressions=[exp.Literal.number(d) for d in read]), copy=False)
    for bound, compare in zip(registered or (), (exp.GTE, exp.LTE)):
        if bound is not None:
            early = early.where(compare(this=quoted(base_properties.REGISTRATION_DATE), expression=date_literal(bound)),
                                copy=False)
    names = [c for c in needed_columns(project, columns) if c not in KEYS]
    in_range = exp.Between(this=quoted("date"), low=date_literal(day_from), high=date_literal(day_to))
    own = exp.select(quoted("entity_id"), quoted("date"), *[quoted(c) for c in names],
                     exp.alias_(quoted("date"), DAY, quoted=True), exp.alias_(quoted("date"), ROW_DATE, quoted=True)).from_(
        named(EARLY)).where(exp.In(this=cohort.copy(), expressions=[exp.Literal.number(d) for d in sorted(set(days))]),
                     in_range, copy=False)
    if signed:
        return _reading_first(_signed_cohort_days(project, early, own, names, columns, days, day_from, day_to, dialect),
                              early, materialize)
    moved_by = None
    for day in sorted(d for d in set(days) if d > 0):
        moved = cast(exp.Add(this=quoted("date"), expression=exp.Literal.number(day)), DataType.DATE)
        by_day = exp.select(quoted("entity_id"), quoted("date"), *[quoted(c) for c in names],
                            exp.alias_(exp.Literal.number(day), "__n", quoted=True)).from_(named(EARLY), copy=False).where(
            exp.EQ(this=cohort.copy(), expression=exp.Literal.number(0)),
            exp.Between(this=moved, low=date_literal(day_from), high=date_literal(day_to)), copy=False)
        moved_by = by_day if moved_by is None else exp.union(moved_by, by_day, distinct=False, copy=False)
    if moved_by is None:  # cohort day 0 only: the registration rows themselves
        return _reading_first(_finish(project, exp.Subquery(this=own), columns, dialect), early, materialize)
    stored_days = exp.select(quoted("entity_id"), quoted(base_properties.COHORT_DAY)).from_(named(EARLY), copy=False)
    anchors = exp.select(quoted("entity_id", "g"), quoted("date", "g"), *[quoted(c, "g") for c in names],
                         exp.alias_(cast(exp.Add(this=quoted("date", "g"), expression=quoted("__n", "g")), DataType.DATE),
                                    DAY, quoted=True),
                         exp.alias_(quoted("date", "g"), ROW_DATE, quoted=True)).from_(
        exp.alias_(exp.Subquery(this=moved_by), "g", table=True, copy=False), copy=False)
    anchors = join(anchors, exp.alias_(exp.Subquery(this=stored_days), "t", table=True, copy=False), side="LEFT",
                   on=exp.and_(exp.EQ(this=quoted("entity_id", "g"), expression=quoted("entity_id", "t")),
                               exp.EQ(this=quoted("__n", "g"), expression=quoted(base_properties.COHORT_DAY, "t")))).where(
        exp.Is(this=quoted("entity_id", "t"), expression=exp.Null()), copy=False)
    base = exp.union(own, anchors, distinct=False, copy=False)
    return _reading_first(_finish(project, exp.Subquery(this=base), columns, dialect), early, materialize)


def _signed_cohort_days(project: ResolvedProject, early: exp.Select, own: exp.Select, names: list[str],
                        columns: list[str], days: list[int], day_from: dt.date, day_to: dt.date,
                        dialect: str) -> exp.Select:
    """The signed rows of ``cohort_days_from_registration`` (``signed``): ``own`` (the stored
    rows of the cohorted days), the registration rows moved by each cohorted day N > 0, and
    the stored rows of each cohorted day N > 0 valued as those would be, from EARLY."""
    early.set("expressions", [quoted("date"), *[quoted(c) for c in names]])  # entity_id is not read
    cohort = quoted(base_properties.COHORT_DAY)
    no_id = _no_entity(project)

    def sign(value: int) -> exp.Expression:
        return exp.alias_(exp.Literal.number(value), SIGN, quoted=True)

    own.set("expressions", [no_id.copy(), *own.expressions[1:], sign(1)])
    later = sorted(d for d in set(days) if d > 0)
    if not later:
        return _finish(project, exp.Subquery(this=own), [*columns, SIGN], dialect, available=set(names))
    moved = cast(exp.Add(this=quoted("date", "e"), expression=quoted("__n", "n")), DataType.DATE)
    offsets = exp.Values(expressions=[exp.Tuple(expressions=[exp.Literal.number(d)]) for d in later],
                         alias=exp.TableAlias(this=exp.to_identifier("n"), columns=[exp.to_identifier("__n")]))
    registration = exp.select(no_id.copy(), quoted("date", "e"), *[quoted(c, "e") for c in names],
                              exp.alias_(moved.copy(), DAY, quoted=True), exp.alias_(quoted("date", "e"), ROW_DATE, quoted=True),
                              sign(1)).from_(exp.alias_(named(EARLY), "e", table=True), copy=False)
    registration = join(registration, offsets, kind="CROSS").where(
        exp.EQ(this=quoted(base_properties.COHORT_DAY, "e"), expression=exp.Literal.number(0)),
        exp.Between(this=moved, low=date_literal(day_from), high=date_literal(day_to)), copy=False)
    # the row of day N valued as the registration row moved N days: counted from day 0
    counter_type = project.properties[base_properties.COHORT_DAY].data_type
    row_day = cast(exp.Sub(this=quoted("date"), expression=exp.Cast(this=cohort.copy(), to=exp.DataType.build("INT"))),
                   DataType.DATE)
    taken_back = exp.select(no_id.copy(), quoted("date"),
                            *[exp.alias_(cast(exp.Literal.number(0), counter_type), c, quoted=True)
                              if c == base_properties.COHORT_DAY else quoted(c) for c in names],
                            exp.alias_(quoted("date"), DAY, quoted=True), exp.alias_(row_day, ROW_DATE, quoted=True),
                            sign(-1)).from_(named(EARLY), copy=False).where(
        exp.In(this=cohort.copy(), expressions=[exp.Literal.number(d) for d in later]),
        exp.Between(this=quoted("date"), low=date_literal(day_from), high=date_literal(day_to)), copy=False)
    base = exp.union(exp.union(own, registration, distinct=False, copy=False), taken_back, distinct=False, copy=False)
    return _finish(project, exp.Subquery(this=base), [*columns, SIGN], dialect, available=set(names))


def _reading_first(query: exp.Select, early: exp.Select, materialize: bool) -> exp.Select:
    """``query`` (a select with CTEs, reading the table EARLY) with ``early`` as its first CTE:
    defined once for its uses (Spark refuses repeated CTE names in one statement);
    ``materialize`` makes DuckDB compute it once (Spark has no MATERIALIZED CTEs)."""
    query.args["with_"].expressions.insert(
        0, exp.CTE(this=early, alias=exp.TableAlias(this=exp.to_identifier(EARLY)), materialized=materialize or None))
    return query


def counter_days(project: ResolvedProject, rows: exp.Expression, columns: list[str], counter: str, n: int,
                 day_from: dt.date, day_to: dt.date, dialect: str = ENGINE_DIALECT,
                 materialize: bool = False) -> exp.Select:
    """The (user, day) rows of ``day_from`` .. ``day_to`` whose ``counter`` (cohort_day or
    days_since_last_active) can be ``n``: for each stored row where the counter is c <= n,
    the day it reaches n if nothing resets it (the row's day + n - c), valued from ``rows``
    (stored rows from ``day_from - n`` on, with ``counter`` among their columns; the caller's
    own tree, not copied).

    A day where the counter is n has an anchor row (its user's last stored row on or before
    it) with the counter at most n, no more than n days earlier: that row proposes the day.
    (The counter's zero day need not be stored: activity before registration starts a user's
    days_since_last_active above 0.) Only rows with the counter at most n are read. A
    proposed day where the counter is not n (the user was active again) keeps its derived
    value, which the reader's filter on the counter drops.
    ``materialize``: read the early rows once, as a MATERIALIZED CTE (DuckDB only)."""
    value = quoted(counter)
    early = exp.select(exp.Star()).from_(exp.alias_(rows, "s", table=True, copy=False)).where(exp.and_(
        exp.LTE(this=value.copy(), expression=exp.Literal.number(n)),
        exp.Between(this=quoted("date"), low=date_literal(day_from - dt.timedelta(days=n)), high=date_literal(day_to))),
        copy=False)
    if n == 0:  # the counter's zero days are stored rows: nothing to derive
        return exp.select(*[quoted(c) for c in (*KEYS, *[project.properties[c].id for c in columns if c not in KEYS])]).from_(
            exp.alias_(exp.Subquery(this=early), "e", table=True)).where(
            exp.and_(exp.EQ(this=value.copy(), expression=exp.Literal.number(0)),
                     exp.Between(this=quoted("date"), low=date_literal(day_from), high=date_literal(day_to))))
    source = named(EARLY)
    moved = day_counter_at(counter, n)
    if counter == base_properties.COHORT_DAY:
        # every stored row of a user from registration to the key has cohort_day <= n and
        # proposes the same key (registration + n): only the users whose key is in range are
        # read, and a key's anchor is the latest of its rows (a GROUP BY, no sort)
        early = early.where(exp.Between(this=moved.copy(), low=date_literal(day_from), high=date_literal(day_to)),
                            copy=False)
        anchored = exp.select(quoted("entity_id"), exp.alias_(moved.copy(), DAY, quoted=True, copy=False),
                              exp.alias_(exp.Max(this=quoted("date")), ROW_DATE, quoted=True)).from_(
            exp.alias_(source.copy(), "e", table=True, copy=False)).group_by(exp.Literal.number(1), exp.Literal.number(2))
        return _reading_first(_expand_anchored(project, source, anchored, [*columns], dialect), early, materialize)
    keys = exp.select(quoted("entity_id"), exp.alias_(moved, "date", quoted=True)).from_(
        exp.alias_(source.copy(), "e", table=True, copy=False)).where(
            exp.Between(this=moved.copy(), low=date_literal(day_from), high=date_literal(day_to)))
    return _reading_first(expand_at(project, source, keys.distinct(), [*columns], dialect), early, materialize)
