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
from asemic_core.semantic.activity import Recency
from asemic_core.semantic.graph import property_inputs
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.expansion import DAY, KEYS, ROW_DATE, _finish, day_counter_at, month_start, needed_columns
from asemic_core.sql.literals import literal
from asemic_core.sql.render import ENGINE_DIALECT
from asemic_core.sql.sources import quoted
from asemic_core.sql.sparse import date_literal, greatest, least
from asemic_core.sql.types import cast

START, END = "__start", "__end"
NEXTS = "__rows_with_next"
GAP_ROWS = "__gap_rows"
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
          recency: dict[str, Recency] | None = None) -> exp.Select:
    """The logical model of ``day_from`` .. ``day_to`` as runs of days with one value each,
    for ``columns`` that are ``gap_constant`` (plus ``days_since_last_active``, valued on
    the run's first day): per stored row, its own day (``__start`` = ``__end``), then its
    gap days up to the user's next stored row, valued as on the first of them. Nothing is
    expanded: a run is one row whatever its length.

    ``rows``: stored rows from ``month_start(day_from)`` (or, with ``recent_days``, from
    ``day_from - recent_days``) to ``day_to``. ``recent_days``: only the days within that
    many days of the last activity (gap runs end there; rows past it are left out).
    ``materialize``: the rows with their next day are computed once (DuckDB).
    ``recency`` (with ``recent_days``): ``rows`` are only the rows of activity and
    registration days, and the columns it names are recency windows (semantic/activity.py),
    derived on gap days from days_since_last_active: each gap run is cut where one of them
    turns off. Every other column must follow from those rows (``follows_activity``)."""
    since = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
    lowest = month_start(day_from)
    if recency is not None and recent_days is None:
        raise ValueError("recency windows are derived on recent days only")
    within = exp.select(exp.Star()).from_(exp.alias_(rows.copy(), "s", table=True))
    if recent_days is not None:
        # every user has a row on the month's first day: it or a later row anchors day_from;
        # the activity part has no such rows: the latest of the recent_days before it does
        earliest = day_from - dt.timedelta(days=recent_days)
        lowest = earliest if recency is not None else max(lowest, earliest)
        within = within.where(exp.LTE(this=since.copy(), expression=exp.Literal.number(recent_days)))
    # before the range, only each user's last row matters (it anchors day_from): found by a
    # grouping, so that only the range's rows are sorted by user
    before = within.copy().where(exp.GTE(this=quoted("date"), expression=date_literal(lowest)),
                                 exp.LT(this=quoted("date"), expression=date_literal(day_from)))
    latest = exp.select(quoted("entity_id"), exp.alias_(exp.Max(this=quoted("date")), "__latest", quoted=True)).from_(
        exp.alias_(exp.Subquery(this=before.copy()), "b", table=True)).group_by(quoted("entity_id"))
    anchors = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("a"))).from_(
        exp.alias_(exp.Subquery(this=before), "a", table=True)).join(
        exp.alias_(exp.Subquery(this=latest), "l", table=True),
        on=exp.and_(exp.EQ(this=quoted("entity_id", "a"), expression=quoted("entity_id", "l")),
                    exp.EQ(this=quoted("date", "a"), expression=quoted("__latest", "l"))))
    inside = within.where(exp.Between(this=quoted("date"), low=date_literal(day_from), high=date_literal(day_to)))
    within = exp.union(anchors, inside, distinct=False)
    following = exp.Window(this=exp.func("LEAD", quoted("date")), partition_by=[quoted("entity_id")],
                           order=exp.Order(expressions=[exp.Ordered(this=quoted("date"))]))
    paired = exp.select(exp.Star(), exp.alias_(following, "__next", quoted=True)).from_(
        exp.alias_(exp.Subquery(this=within), "w", table=True))
    nexts = exp.select(exp.Star()).from_(NEXTS)
    names = [project.properties[project.property_aliases.get(c, c)].id for c in columns if c not in KEYS]
    own = exp.select(quoted("entity_id"), exp.alias_(quoted("date"), START, quoted=True),
                     exp.alias_(quoted("date"), END, quoted=True), *[quoted(c) for c in names]).from_(
        exp.alias_(exp.Subquery(this=nexts.copy()), "o", table=True)).where(
        exp.Between(this=quoted("date"), low=date_literal(day_from), high=date_literal(day_to)))
    # the gap days: valued on the first of them (the day after the row), which _finish derives
    base = exp.select(exp.Star(), exp.alias_(plus_days(quoted("date"), 1), DAY, quoted=True),
                      exp.alias_(quoted("date"), ROW_DATE, quoted=True)).from_(
        exp.alias_(exp.Subquery(this=nexts), "n", table=True)).where(
        exp.LT(this=quoted("date"), expression=date_literal(day_to)))
    needed = needed_columns(project, names)
    windows = {name: recency[name] for name in names if name in (recency or {})}
    counters = [base_properties.DAYS_SINCE_LAST_ACTIVE] if recent_days is not None else []
    counters += [base_properties.COHORT_DAY] if windows else []  # a window starts at registration
    needed += [c for c in counters if c not in needed]
    valued = _finish(project, exp.Subquery(this=base), [*needed, "__next"], dialect, available=set(needed))
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
    if windows:
        gaps = _recency_pieces(project, names, windows, first, last)
    else:
        gaps = exp.select(quoted("entity_id"), exp.alias_(first.copy(), START, quoted=True),
                          exp.alias_(last.copy(), END, quoted=True), *[quoted(c) for c in names]).from_(
            exp.alias_(exp.Subquery(this=valued), "g", table=True)).where(exp.LTE(this=first, expression=last))
    both = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=exp.union(own, gaps, distinct=False)), "r", table=True))
    both = both.with_(NEXTS, as_=paired, materialized=materialize or None)
    # the gap rows, defined once for the pieces that read them (Spark refuses their inner
    # CTE names repeated in one statement)
    return both.with_(GAP_ROWS, as_=valued) if windows else both


def _recency_pieces(project: ResolvedProject, names: list[str], windows: dict[str, Recency],
                    first: exp.Expression, last: exp.Expression) -> exp.Expression:
    """The gap runs ``first`` .. ``last`` of GAP_ROWS (rows valued on their first gap day)
    cut where a recency window of ``windows`` turns off: window K is on through the day
    days_since_last_active reaches K (date + K - days_since_last_active), off after it.
    It is always off for a user never active, or last active before registering (a window
    sees only registered days): days_since_last_active > cohort_day, which both advance
    by one a day. Piece p lies after the p-th smallest K's last day and through the next
    one's; the windows of the p smallest K are off there."""
    since = quoted(base_properties.DAYS_SINCE_LAST_ACTIVE)
    thresholds = sorted({w.days for w in windows.values()})
    never = exp.or_(exp.Is(this=since.copy(), expression=exp.Null()),
                    exp.GT(this=since.copy(), expression=quoted(base_properties.COHORT_DAY)))

    def last_on(days: int) -> exp.Expression:
        reach = day_counter_at(base_properties.DAYS_SINCE_LAST_ACTIVE, days)
        return _if(never.copy(), plus_days(quoted("date"), -1), reach)

    pieces = []
    for index in range(len(thresholds) + 1):
        low = first.copy() if index == 0 else greatest(first.copy(), plus_days(last_on(thresholds[index - 1]), 1))
        high = last.copy() if index == len(thresholds) else least(last.copy(), last_on(thresholds[index]))
        values = []
        for name in names:
            window = windows.get(name)
            if window is None:
                values.append(quoted(name))
                continue
            value = window.on if index <= thresholds.index(window.days) else window.off
            values.append(exp.alias_(cast(literal(value), project.properties[name].data_type), name, quoted=True))
        pieces.append(exp.select(quoted("entity_id"), exp.alias_(low.copy(), START, quoted=True),
                                 exp.alias_(high.copy(), END, quoted=True), *values).from_(
            exp.alias_(exp.to_table(GAP_ROWS), "g", table=True)).where(exp.LTE(this=low, expression=high)))
    union = pieces[0]
    for piece in pieces[1:]:
        union = exp.union(union, piece, distinct=False)
    return exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=union), "p", table=True))
