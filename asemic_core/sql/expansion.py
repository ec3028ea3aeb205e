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
from asemic_core.sql.sources import quoted
from asemic_core.sql.sparse import PREVIOUS_ACTIVE, date_literal
from asemic_core.sql.types import cast

ROW_DATE = "__row_date"
DAY = "__target_day"
KEYS = ("entity_id", "date")
EARLY = "__counter_rows"
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
    """``columns`` plus what their evaluation on gap days reads (inputs of computed properties)."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name in KEYS:
            return
        prop = project.properties[name]
        if prop.kind == "computed_property" and name not in carried:
            for dep in property_inputs(project, prop):
                visit(dep)
        order.append(name)

    for name in columns:
        visit(project.property_aliases.get(name, name))
    return order


def days_between(later: exp.Expression, earlier: exp.Expression) -> exp.Expression:
    """``later - earlier`` in days, an integer."""
    return cast(exp.DateDiff(this=later, expression=earlier, unit=exp.var("DAY")), DataType.INTEGER)


def _derived(project: ResolvedProject, name: str) -> exp.Expression:
    """A non-computed column on the target day, from the anchor row (``r``)."""
    on_row = exp.EQ(this=quoted(DAY, "t"), expression=quoted(ROW_DATE, "t"))
    prop = project.properties.get(name)
    stored = quoted(name, "t")
    if name == PREVIOUS_ACTIVE:  # set on activity days only
        return exp.Case(ifs=[exp.If(this=on_row, true=stored)], default=cast(exp.Null(), DataType.DATE))
    if prop is None:  # a column the config no longer defines (dropped by the job): as stored
        return stored
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
                            and not set(needed_columns(project, [c])) <= available)
    else:
        unknown = []
    needed = needed_columns(project, columns, carried)
    computed = [c for c in needed if project.properties[c].kind == "computed_property" and c not in carried]
    first = [quoted("entity_id", "t"), exp.alias_(quoted(DAY, "t"), "date", quoted=True),
             exp.alias_(quoted(ROW_DATE, "t"), ROW_DATE, quoted=True)]
    for name in [*needed, *unknown]:
        if name in computed:
            first.append(exp.alias_(quoted(name, "t"), f"__stored_{name}", quoted=True))
        else:
            first.append(exp.alias_(_derived(project, name), name, quoted=True))
    stage = exp.select(*first).from_(exp.alias_(base, "t", table=True))
    builder = ModelQueryBuilder(project, dialect)
    ctes: list[tuple[str, exp.Expression]] = [("x0", stage)]
    done = set(needed) - set(computed)
    pending = list(computed)
    while pending:
        ready = [c for c in pending if all(d in done or d in KEYS for d in property_inputs(project, project.properties[c]))]
        if not ready:  # pragma: no cover - needed_columns orders the inputs first
            raise AssertionError(f"cannot order {pending}")
        select = exp.select(exp.Star()).from_(ctes[-1][0])
        for name in ready:
            prop = project.properties[name]
            on_row = exp.EQ(this=quoted("date"), expression=quoted(ROW_DATE))
            value = cast(builder.computed_expression(prop), prop.data_type)
            select = select.select(exp.alias_(exp.Case(ifs=[exp.If(this=on_row, true=quoted(f"__stored_{name}"))],
                                                       default=value), name, quoted=True))
        ctes.append((f"x{len(ctes)}", select))
        done |= set(ready)
        pending = [c for c in pending if c not in done]
    final = exp.select(*[quoted(c) for c in (*KEYS, *[project.properties[c].id for c in columns if c not in KEYS],
                                             *unknown)]).from_(ctes[-1][0])
    for name, query in ctes:  # this call's own trees: no copy of the growing query each time
        final = final.with_(name, as_=query, copy=False)
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
            exp.alias_(exp.to_table(EARLY), "e", table=True)).where(
            exp.LTE(this=cohort.copy(), expression=exp.Literal.number(day)),
            exp.Between(this=moved, low=date_literal(day_from), high=date_literal(day_to))).group_by(
            exp.Literal.number(1), exp.Literal.number(2))
        anchored = per_day if anchored is None else exp.Union(this=anchored, expression=per_day, distinct=False)
    anchored = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=anchored), "k", table=True))
    return _reading_first(_expand_anchored(project, exp.to_table(EARLY), anchored, columns, dialect), early, materialize)


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
    source = exp.to_table(EARLY)
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
