"""The logical model of a range as runs of days with one value each (no day expanded).

A stored row holds its own day's values; the gap days after it (up to the user's next
stored row) hold values derived from it (sql/expansion.py), constant there for the
columns ``gap_constant`` accepts. A KPI summing such columns is a sum over runs
(query/kpi_delta.py): a run is one row whatever its length.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from asemic_core.config.models import DataType
from asemic_core.semantic import base_properties
from asemic_core.semantic.activity import Recency, over_activity_tables, recency
from asemic_core.semantic.graph import property_inputs
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.expansion import (DAY, KEYS, ROW_DATE, SIGN, _finish, day_counter_at, days_between, month_start,
                                       needed_columns)
from asemic_core.sql.literals import literal
from asemic_core.sql.render import ENGINE_DIALECT
from asemic_core.sql.sources import cte_name, named, quoted
from asemic_core.sql.sparse import PREVIOUS_ACTIVE, date_literal, greatest, least
from asemic_core.sql.steps import Steps, steps as step_function
from asemic_core.sql.types import cast

START, END = "__start", "__end"
NEXTS = "__rows_with_next"
GAP_ROWS = "__gap_rows"
RECENT_ROWS = "__recent_rows"
FROM = "__from"
NEAR = "__near_runs"
GAP_VARYING = frozenset({base_properties.COHORT_DAY, base_properties.DAYS_SINCE_LAST_ACTIVE, base_properties.DATE})


def gap_constant(project: ResolvedProject, name: str) -> bool:
    """Whether a property keeps one value on all the gap days after a stored row: not a day
    counter, not a computed property of one (or of the date). Event properties hold their
    default there; windows, lifetime and registration values carry."""
    prop = project.properties.get(project.property_aliases.get(name, name))
    if prop is None:
        return False
    if prop.is_base:
        return prop.id not in GAP_VARYING
    if prop.kind == "computed_property":
        return all(gap_constant(project, dep) for dep in property_inputs(project, prop))
    return True


def _if(condition: exp.Expression, then: exp.Expression, otherwise: exp.Expression) -> exp.Expression:
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)


def plus_days(day: exp.Expression, days: int) -> exp.Expression:
    return cast(exp.Add(this=day, expression=exp.Literal.number(days)), DataType.DATE)


def spans(project: ResolvedProject, rows: exp.Expression, columns: list[str], day_from: dt.date, day_to: dt.date,
          dialect: str = ENGINE_DIALECT, recent_days: int | None = None, materialize: bool = False,
          recency: dict[str, Recency] | None = None, previous: bool = False,
          steps: dict[str, Steps] | None = None, everyone: exp.Expression | None = None,
          users: bool = False) -> exp.Select:
    """The logical model of ``day_from`` .. ``day_to`` as runs of days with one value each,
    for ``columns`` that are ``gap_constant`` (plus ``days_since_last_active``, valued on
    the run's first day): per stored row, its own day (``__start`` = ``__end``), then its
    gap days up to the user's next stored row, valued as on the first of them. Nothing is
    expanded: a run is one row whatever its length.

    ``rows``: stored rows from ``month_start(day_from)`` (or, with ``recent_days``, from
    ``day_from - recent_days``) to ``day_to``; the caller's own tree (not copied).
    ``recent_days``: only the days within that many days of the last activity (gap runs
    end there; rows past it are left out).
    ``materialize``: the rows with their next day are computed once (DuckDB).
    ``recency`` (with ``recent_days``): ``rows`` are only the rows of activity and
    registration days, and the columns it names are recency windows (semantic/activity.py),
    derived on gap days from days_since_last_active: each gap run is cut where one of them
    turns off. Every other column must follow from those rows (``follows_activity``).
    ``previous`` (with ``recency``): ``rows`` also have registration_date and
    PREVIOUS_ACTIVE: the runs are found without pairing rows (``_unpaired_runs``); then
    ``steps`` (columns that are step functions of days_since_last_active, sql/steps.py)
    are derived on gap days like the windows, and ``everyone`` (each registered user:
    entity_id, registration_date and the registration columns among ``columns``) makes
    the runs cover every registered day, not only the recent ones. Runs alike stand for
    many users, with a NULL entity_id, unless ``users`` (a reader of entity_id itself)."""
    since = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
    lowest = month_start(day_from)
    if recency is not None and recent_days is None:
        raise ValueError("recency windows are derived on recent days only")
    if previous:
        if recency is None:
            raise ValueError("runs without pairing are for the activity part")
        return _unpaired_runs(project, rows, columns, day_from, day_to, dialect, recent_days, recency, materialize,
                              steps or {}, everyone, users)
    within = exp.select(exp.Star()).from_(exp.alias_(rows, "s", table=True, copy=False))
    if recent_days is not None:
        # every user has a row on the month's first day: it or a later row anchors day_from;
        # the activity part has no such rows: the latest of the recent_days before it does
        earliest = day_from - dt.timedelta(days=recent_days)
        lowest = earliest if recency is not None else max(lowest, earliest)
        within = within.where(exp.LTE(this=since.copy(), expression=exp.Literal.number(recent_days)), copy=False)
    # before the range, only each user's last row matters (it anchors day_from): found by a
    # grouping, so that only the range's rows are sorted by user
    before = within.copy().where(exp.GTE(this=quoted("date"), expression=date_literal(lowest)),
                                 exp.LT(this=quoted("date"), expression=date_literal(day_from)), copy=False)
    latest = exp.select(quoted("entity_id"), exp.alias_(exp.Max(this=quoted("date")), "__latest", quoted=True)).from_(
        exp.alias_(exp.Subquery(this=before.copy()), "b", table=True, copy=False)).group_by(quoted("entity_id"))
    anchors = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("a"))).from_(
        exp.alias_(exp.Subquery(this=before), "a", table=True, copy=False)).join(
        exp.alias_(exp.Subquery(this=latest), "l", table=True, copy=False),
        on=exp.and_(exp.EQ(this=quoted("entity_id", "a"), expression=quoted("entity_id", "l")),
                    exp.EQ(this=quoted("date", "a"), expression=quoted("__latest", "l"))))
    inside = within.where(exp.Between(this=quoted("date"), low=date_literal(day_from), high=date_literal(day_to)),
                          copy=False)
    within = exp.union(anchors, inside, distinct=False)
    following = exp.Window(this=exp.func("LEAD", quoted("date")), partition_by=[quoted("entity_id")],
                           order=exp.Order(expressions=[exp.Ordered(this=quoted("date"))]))
    paired = exp.select(exp.Star(), exp.alias_(following, "__next", quoted=True), _plus_one()).from_(
        exp.alias_(exp.Subquery(this=within), "w", table=True, copy=False))
    nexts = exp.select(exp.Star()).from_(named(NEXTS))
    names = [project.properties[project.property_aliases.get(c, c)].id for c in columns if c not in KEYS]
    own = exp.select(quoted("entity_id"), exp.alias_(quoted("date"), START, quoted=True),
                     exp.alias_(quoted("date"), END, quoted=True), *[quoted(c) for c in names], quoted(SIGN)).from_(
        exp.alias_(exp.Subquery(this=nexts.copy()), "o", table=True, copy=False)).where(
        exp.Between(this=quoted("date"), low=date_literal(day_from), high=date_literal(day_to)))
    # the gap days: valued on the first of them (the day after the row), which _finish derives
    base = exp.select(exp.Star(), exp.alias_(plus_days(quoted("date"), 1), DAY, quoted=True),
                      exp.alias_(quoted("date"), ROW_DATE, quoted=True)).from_(
        exp.alias_(exp.Subquery(this=nexts), "n", table=True, copy=False)).where(
        exp.LT(this=quoted("date"), expression=date_literal(day_to)))
    needed = needed_columns(project, names)
    windows = {name: recency[name] for name in names if name in (recency or {})}
    counters = [base_properties.DAYS_SINCE_LAST_ACTIVE] if recent_days is not None else []
    counters += [base_properties.COHORT_DAY] if windows else []  # a window starts at registration
    needed += [c for c in counters if c not in needed]
    valued = _finish(project, exp.Subquery(this=base), [*needed, "__next", SIGN], dialect, available=set(needed))
    last = _if(exp.Is(this=quoted("__next"), expression=exp.Null()), date_literal(day_to),
               _if(exp.GT(this=quoted("__next"), expression=plus_days(date_literal(day_to), 1)), date_literal(day_to),
                   plus_days(quoted("__next"), -1)))
    if recent_days is not None:
        # the first gap day has days_since_last_active = d + 1; the last recent day is
        # that day + recent_days - (d + 1); a user never active has no recent gap day
        reach = day_counter_at(base_properties.DAYS_SINCE_LAST_ACTIVE, recent_days)
        last = _if(exp.Is(this=since.copy(), expression=exp.Null()), plus_days(quoted("date"), -1),
                   _if(exp.LT(this=reach.copy(), expression=last.copy()), reach, last))
    first = _if(exp.LT(this=quoted("date"), expression=date_literal(day_from)), date_literal(day_from), quoted("date"))
    return _defined_first(_with_gaps(project, names, windows, own, valued, first, last), NEXTS, paired, materialize)


def _unpaired_runs(project: ResolvedProject, rows: exp.Expression, columns: list[str], day_from: dt.date,
                   day_to: dt.date, dialect: str, recent_days: int, recency: dict[str, Recency],
                   materialize: bool, steps: dict[str, Steps], everyone: exp.Expression | None,
                   users: bool) -> exp.Select:
    """``spans`` of the activity part without pairing each row with the user's next one.

    Each row r of an activity or registration day gives its own day and its *tail*: the
    days after it valued as if the user were never active again (the gap values follow
    from r's last activity: event properties at their default, the recency windows and the
    population ending with days_since_last_active). The user's next row b (an activity day
    after registration) ends r's gap: from b on, r's tail is taken back by b, with sign -1.
    b knows all it takes: r is its day before (PREVIOUS_ACTIVE, or the registration day if
    that was later), r's last activity is PREVIOUS_ACTIVE, and every other column is the
    user's (registration values) or at its default on gap days. Summed with their signs,
    the runs give each day's values once, like ``spans``; no sort by user."""
    since = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
    registered = quoted(base_properties.REGISTRATION_DATE)
    earliest = day_from - dt.timedelta(days=recent_days)
    # the rows of activity and registration days (a table without the split holds others)
    zero = exp.Literal.number(0)
    recent = exp.select(exp.Star()).from_(exp.alias_(rows, "s", table=True, copy=False)).where(
        exp.LTE(this=since.copy(), expression=exp.Literal.number(recent_days)),
        exp.Between(this=quoted("date"), low=date_literal(earliest), high=date_literal(day_to)),
        exp.or_(exp.EQ(this=since.copy(), expression=zero.copy()),
                exp.EQ(this=quoted(base_properties.COHORT_DAY), expression=zero.copy())), copy=False)
    names = [project.properties[project.property_aliases.get(c, c)].id for c in columns if c not in KEYS]
    # the users' own days, as many runs as users with the same values (the sign counts them)
    own = exp.select(_user(project, users), exp.alias_(quoted("date"), START, quoted=True),
                     exp.alias_(quoted("date"), END, quoted=True), *[quoted(c) for c in names],
                     exp.alias_(cast(exp.Count(this=exp.Star()), DataType.INTEGER), SIGN, quoted=True)).from_(
        named(RECENT_ROWS), copy=False).where(exp.Between(this=quoted("date"), low=date_literal(day_from), high=date_literal(day_to)),
                                       copy=False).group_by(*_positions(len(names) + 3, users), copy=False)
    needed = needed_columns(project, names)
    needed += [c for c in (base_properties.DAYS_SINCE_LAST_ACTIVE, base_properties.COHORT_DAY) if c not in needed]
    # r's tail from the day after it, with r's own columns
    tails = exp.select(quoted("entity_id"), *[quoted(c) for c in needed],
                       exp.alias_(plus_days(quoted("date"), 1), DAY, quoted=True),
                       exp.alias_(quoted("date"), ROW_DATE, quoted=True),
                       exp.alias_(plus_days(quoted("date"), 1), FROM, quoted=True), _plus_one()).from_(named(RECENT_ROWS), copy=False).where(
        exp.LT(this=quoted("date"), expression=date_literal(day_to)), copy=False)
    # r's tail from b on, rebuilt on b: r is the later of b's previous activity day and the
    # registration day; its counters and last activity follow
    before = quoted(PREVIOUS_ACTIVE)
    r_day = greatest(before.copy(), registered.copy())
    overrides = {base_properties.DAYS_SINCE_LAST_ACTIVE: days_between(r_day.copy(), before.copy()),
                 base_properties.COHORT_DAY: days_between(r_day.copy(), registered.copy())}
    last_activity = project.properties.get(base_properties.LAST_ACTIVITY_DATE)
    if last_activity is not None and last_activity.is_base:
        overrides[base_properties.LAST_ACTIVITY_DATE] = before.copy()
    taken_back = exp.select(quoted("entity_id"), *[exp.alias_(overrides[c], c, quoted=True) if c in overrides else quoted(c)
                                                   for c in needed],
                            exp.alias_(plus_days(r_day.copy(), 1), DAY, quoted=True),
                            exp.alias_(cast(r_day.copy(), DataType.DATE), ROW_DATE, quoted=True),
                            exp.alias_(quoted("date"), FROM, quoted=True),
                            exp.alias_(cast(exp.Literal.number(-1), DataType.INTEGER), SIGN, quoted=True)).from_(
        named(RECENT_ROWS), copy=False).where(exp.Not(this=exp.Is(this=before.copy(), expression=exp.Null())),
                                       exp.GT(this=quoted("date"), expression=registered.copy()), copy=False)
    base = exp.union(tails, taken_back, distinct=False, copy=False)
    windows = {name: recency[name] for name in names if name in recency}
    steps = {name: steps[name] for name in names if name in steps}
    valued = _finish(project, exp.Subquery(this=_alike(project, base, needed, {**windows, **steps}, users)),
                     [*needed, FROM, SIGN], dialect, available=set(needed))
    # the first gap day has days_since_last_active = d + 1; the last recent day is that day
    # + recent_days - (d + 1); a user never active has no recent gap day
    reach = day_counter_at(base_properties.DAYS_SINCE_LAST_ACTIVE, recent_days)
    last = _if(exp.Is(this=since.copy(), expression=exp.Null()), plus_days(quoted("date"), -1),
               least(reach, date_literal(day_to)))
    first = greatest(quoted(FROM), date_literal(day_from))
    runs = _with_gaps(project, names, windows, own, valued, first, last, steps)
    if everyone is not None:
        runs = _every_registered_day(project, runs, names, windows, steps, everyone, day_from, day_to, users)
    return _defined_first(runs, RECENT_ROWS, recent, materialize)


def every_day_columns(project: ResolvedProject, columns: list[str]) -> tuple[dict[str, Recency], dict[str, Steps]] | None:
    """(recency windows, step functions) among ``columns`` when runs of the activity part
    with ``everyone`` (``spans``) can value every registered day of them: each column is a
    recency window, or a step function of days_since_last_active (sql/steps.py) with the
    same value for a user never active as far from any activity, or an event property
    over activity tables, or fixed per user (a registration property, registration_date,
    cohort_size); days_since_last_active itself is valued on each run's first day. Not
    windows and step functions together. None: they cannot."""
    windows, stepped = {}, {}
    for column in dict.fromkeys(project.property_aliases.get(c, c) for c in columns):
        prop = project.properties.get(column)
        if prop is None or column in KEYS:
            return None
        if prop.is_base:
            if column not in (base_properties.DAYS_SINCE_LAST_ACTIVE, base_properties.REGISTRATION_DATE,
                              base_properties.COHORT_SIZE):
                return None
        elif (window := recency(project, column)) is not None:
            windows[column] = window
        elif (found := step_function(project, column)) is not None:
            if found.missing != found.values[-1]:
                return None
            stepped[column] = found
        elif prop.kind != "registration_property" and not over_activity_tables(project, column):
            return None
    if windows and stepped:
        return None
    return windows, stepped


def _every_registered_day(project: ResolvedProject, runs: exp.Select, names: list[str], windows: dict[str, Recency],
                          steps: dict[str, Steps], everyone: exp.Expression, day_from: dt.date,
                          day_to: dt.date, users: bool) -> exp.Select:
    """``runs`` (the days within reach of an activity) completed to every registered day.

    Past the reach, every column holds its value *far* from any activity: windows off,
    steps at their last value, event properties at their default; the registration
    values are the user's. So: every registered day valued far (from ``everyone``), plus
    each run of ``runs`` valued as it is, less the same run valued far."""
    far = {}
    for name in names:
        prop = project.properties[name]
        if name in windows:
            far[name] = cast(literal(windows[name].off), prop.data_type)
        elif name in steps:
            far[name] = cast(literal(steps[name].values[-1]), prop.data_type)
        elif prop.kind == "event_property":
            far[name] = cast(literal(prop.definition.default_value), prop.data_type)
        elif name == base_properties.DAYS_SINCE_LAST_ACTIVE:
            far[name] = cast(exp.Null(), prop.data_type)
        elif name == base_properties.COHORT_SIZE:
            far[name] = cast(exp.Literal.number(1), prop.data_type)
    taken_back = exp.select(quoted("entity_id"), quoted(START), quoted(END),
                            *[exp.alias_(far[n].copy(), n, quoted=True) if n in far else quoted(n) for n in names],
                            exp.alias_(exp.Neg(this=quoted(SIGN)), SIGN, quoted=True)).from_(named(NEAR), copy=False)
    registered = quoted(base_properties.REGISTRATION_DATE)
    every = exp.select(_user(project, users), exp.alias_(greatest(registered.copy(), date_literal(day_from)), START, quoted=True),
                       exp.alias_(date_literal(day_to), END, quoted=True),
                       *[exp.alias_(far[n].copy(), n, quoted=True) if n in far else quoted(n) for n in names],
                       exp.alias_(cast(exp.Count(this=exp.Star()), DataType.INTEGER), SIGN, quoted=True)).from_(
        exp.alias_(everyone, "u", table=True), copy=False).where(exp.LTE(this=registered.copy(), expression=date_literal(day_to)),
                                                                 copy=False).group_by(*_positions(len(names) + 3, users),
                                                                                      copy=False)
    ctes = runs.args.pop("with_", None)
    near = exp.select(exp.Star()).from_(named(NEAR))
    result = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=exp.union(exp.union(near, taken_back, distinct=False,
                                                                                          copy=False),
                                                                                every, distinct=False, copy=False)), "e",
                                                     table=True, copy=False), copy=False)
    for cte in ctes.expressions if ctes is not None else []:
        result = result.with_(cte_name(cte.alias), as_=cte.this, copy=False)
    return result.with_(cte_name(NEAR), as_=runs, copy=False)


def _user(project: ResolvedProject, users: bool) -> exp.Expression:
    """The runs' entity_id: the user's (``users``), or NULL for runs standing for many."""
    if users:
        return quoted(base_properties.ENTITY_ID)
    return exp.alias_(cast(exp.Null(), project.properties[base_properties.ENTITY_ID].data_type), "entity_id", quoted=True)


def _positions(count: int, users: bool) -> list[exp.Expression]:
    """GROUP BY positions of a select's first ``count`` columns, the first (entity_id) only
    with ``users``."""
    return [exp.Literal.number(i) for i in range(1 if users else 2, count + 1)]


def _alike(project: ResolvedProject, base: exp.Expression, needed: list[str], windows: dict,
           users: bool = False) -> exp.Select:
    """The tails of ``base`` (rows to value on their gap days) with what the gap days do not
    read left out, and the alike ones as one row whose sign sums theirs: a few thousand rows
    instead of one per user and day. Gap days read no event property (each is at its
    default), no recency window (derived) and no stored computed value (computed again);
    of cohort_day, only whether it is below days_since_last_active (a window is off while
    the last activity is before registration): cohort_day is kept up to that point."""
    since = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
    keys = [_user(project, users)]
    for name in needed:
        prop = project.properties[name]
        if name == base_properties.COHORT_DAY:
            value = _if(exp.GT(this=quoted(name), expression=since.copy()),
                        exp.Add(this=since.copy(), expression=exp.Literal.number(1)), quoted(name))
        elif name in windows or (not prop.is_base and prop.kind in ("event_property", "computed_property")):
            value = cast(exp.Null(), prop.data_type)
        else:
            value = quoted(name)
        keys.append(exp.alias_(value, name, quoted=True))
    keys += [quoted(DAY), quoted(ROW_DATE), quoted(FROM)]
    return exp.select(*keys, exp.alias_(cast(exp.Sum(this=quoted(SIGN)), DataType.INTEGER), SIGN, quoted=True)).from_(
        exp.alias_(exp.Subquery(this=base), "b", table=True, copy=False), copy=False).group_by(
        *_positions(len(keys), users), copy=False)


def _with_gaps(project: ResolvedProject, names: list[str], windows: dict[str, Recency], own: exp.Select,
               valued: exp.Select, first: exp.Expression, last: exp.Expression,
               steps: dict[str, Steps] | None = None) -> exp.Select:
    """The runs: ``own`` (the stored rows' own days) and the gap runs ``first`` .. ``last``
    of ``valued`` (rows valued on their first gap day), cut where a window turns off (or a
    step function of days_since_last_active changes)."""
    steps = steps or {}
    if windows or steps:
        gaps = _recency_pieces(project, names, windows, first, last, steps)
    else:
        gaps = exp.select(quoted("entity_id"), exp.alias_(first.copy(), START, quoted=True, copy=False),
                          exp.alias_(last.copy(), END, quoted=True, copy=False), *[quoted(c) for c in names], quoted(SIGN)).from_(
            exp.alias_(exp.Subquery(this=valued), "g", table=True, copy=False), copy=False).where(
            exp.LTE(this=first, expression=last), copy=False)
    both = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=exp.union(own, gaps, distinct=False, copy=False)), "r",
                                                   table=True, copy=False), copy=False)
    # the gap rows, defined once for the pieces that read them (Spark refuses their inner
    # CTE names repeated in one statement)
    return both.with_(cte_name(GAP_ROWS), as_=valued, copy=False) if windows or steps else both


def _defined_first(query: exp.Select, name: str, definition: exp.Expression, materialize: bool) -> exp.Select:
    """``query`` with the CTE ``name`` defined before its own (which read it);
    ``materialize``: computed once (DuckDB)."""
    if query.args.get("with_") is None:
        return query.with_(cte_name(name), as_=definition, materialized=materialize or None, copy=False)
    query.args["with_"].expressions.insert(0, exp.CTE(this=definition, alias=exp.TableAlias(this=exp.to_identifier(name)),
                                                      materialized=materialize or None))
    return query


def _plus_one() -> exp.Expression:
    return exp.alias_(cast(exp.Literal.number(1), DataType.INTEGER), SIGN, quoted=True)


def _recency_pieces(project: ResolvedProject, names: list[str], windows: dict[str, Recency],
                    first: exp.Expression, last: exp.Expression, steps: dict[str, Steps] | None = None) -> exp.Expression:
    """The gap runs ``first`` .. ``last`` of GAP_ROWS (rows valued on their first gap day)
    cut where a recency window of ``windows`` turns off: window K is on through the day
    days_since_last_active reaches K (date + K - days_since_last_active), off after it.
    It is always off for a user never active, or last active before registering (a window
    sees only registered days): days_since_last_active > cohort_day, which both advance
    by one a day. Piece p lies after the p-th smallest K's last day and through the next
    one's; the windows of the p smallest K are off there.
    ``steps`` (not with windows): cut where days_since_last_active passes a bound of one of
    them instead; each piece holds each step function's value on its range of the counter."""
    since = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
    steps = steps or {}
    if windows and steps:
        raise ValueError("recency windows and step functions are not cut together")
    thresholds = sorted({w.days for w in windows.values()} | {b for s in steps.values() for b in s.bounds})
    never = exp.or_(exp.Is(this=since.copy(), expression=exp.Null()),
                    exp.GT(this=since.copy(), expression=quoted(base_properties.COHORT_DAY)))

    def last_on(days: int) -> exp.Expression:
        reach = day_counter_at(base_properties.DAYS_SINCE_LAST_ACTIVE, days)
        # a step function reads the counter whenever the last activity was
        return reach if steps else _if(never.copy(), plus_days(quoted("date"), -1), reach)

    pieces = []
    for index in range(len(thresholds) + 1):
        low = first.copy() if index == 0 else greatest(first.copy(), plus_days(last_on(thresholds[index - 1]), 1))
        high = last.copy() if index == len(thresholds) else least(last.copy(), last_on(thresholds[index]))
        values = []
        for name in names:
            window = windows.get(name)
            if name in steps:
                value = steps[name].value_through(thresholds[index] if index < len(thresholds) else None)
            elif window is None:
                values.append(quoted(name))
                continue
            else:
                value = window.on if index <= thresholds.index(window.days) else window.off
            values.append(exp.alias_(cast(literal(value), project.properties[name].data_type), name, quoted=True))
        pieces.append(exp.select(quoted("entity_id"), exp.alias_(low.copy(), START, quoted=True, copy=False),
                                 exp.alias_(high.copy(), END, quoted=True, copy=False), *values, quoted(SIGN)).from_(
            exp.alias_(named(GAP_ROWS), "g", table=True, copy=False), copy=False).where(
            exp.LTE(this=low, expression=high), copy=False))
    union = pieces[0]
    for piece in pieces[1:]:
        union = exp.union(union, piece, distinct=False, copy=False)
    return exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=union), "p", table=True, copy=False), copy=False)
