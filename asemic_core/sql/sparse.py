"""The sparse layout: the model stores a user's row only on the days its values can change.

The logical model has a row for every user and every day from registration (SEMANTICS 4).
Most of those rows hold nothing new: an event property is its default on a day without
events, a lifetime value carries, a sliding window moves only when a day with events
enters or leaves it. The sparse layout computes and stores the rows of the *change days*
of each user (the spine) and derives every other day from the user's last stored row:

- the registration day, and the first day of every month (an anchor, so that a reader of
  days A..B finds each user's last row on or after the first of A's month);
- every day with events in a table the model reads (or activity);
- the days on which a window's source holds something other than its gap value, shifted by
  the offsets at which that day enters or leaves the window; with a non-NULL gap value also
  by the offsets at which the gap days next to it enter or leave, when those days can change
  the window's value (the source is NULL there, or "beaten" by the gap value: below it for
  MAX, above it for MIN; ``SourceShifts``); the registration day by the offset at which
  it enters a window that ends before the day (``-to`` for ``to`` < 0: the window's first
  day that holds a day of the user's, NULL before);
- each fixed window's first day, and for windows wholly in the future (``from`` >= 1) the
  day from which they reach past the model's last day.

On a day between two stored rows (a gap day) the sources of windows and lifetime values
hold their default (``gap value``), so those values are constant from the last stored row
on; event properties are their default; day counters advance by the days since that row;
computed properties are evaluated again over the derived inputs (``query.expansion``).

Windows are computed over the stored rows with RANGE frames on the day number, corrected
for the gap days inside the frame (their count is arithmetic: the days of the window that
exist for the user, less the stored rows in the frame).

A config whose windows read a computed property, or whose gap values change a value on
every day (a sum with a non-zero default, an average or count of a non-NULL default), has
no short description of its change days: it is computed and stored dense (every day), and
``SparseLayout.reason`` says why. Readers treat both the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlglot import exp

from asemic_core.config.models import DataType
from asemic_core.semantic.graph import dependency_closure
from asemic_core.semantic.model import ResolvedProject, ResolvedProperty
from asemic_core.sql.literals import literal
from asemic_core.semantic.model import ACTIVITY, REGISTRATIONS
from asemic_core.sql.render import ENGINE_DIALECT
from asemic_core.sql.sources import (ROW_ALIAS, activity_relation, column_path, event_date_expression,
                                     event_properties_query, quoted, table_rows)
from asemic_core.sql.types import cast

# Stored: on an activity day, the user's previous activity day (before registration too;
# NULL if none), and NULL on every other day (on gap days too, as an event property's
# default). With it a reader turns activity days into the stretches a recency window is on
# without pairing each day with the next one (a sort).
PREVIOUS_ACTIVE = "__previous_active"

# Stored by a layout with ``next_day``: beside a window that ends before the day (``to`` <
# 0), its value on the day after the row (the same window a day later: every day of its
# frame is on or before the row's, so no later event changes it). The window changes only
# on stored days and on the days right after them, so on every gap day after a row it holds
# that value (``SparseLayout.next_day``).
NEXT_DAY = "__next_{}"

DAY_NUMBER = "__day"  # days since 1970-01-01: windows frame over it
REG_DAY = "__reg_day"  # the registration day's number
WINDOW_FUNCTIONS_NEUTRAL_DEFAULT = {"min", "max", "count_distinct"}  # a constant default changes them at most once per gap
LIFETIME_NEUTRAL_DEFAULT = {"min", "max", "first_value", "last_value"}


# When the gap days next to a day with events can change a window holding that day (its
# value is in the frame whenever they enter or leave it): which of its values let them.
INFORMATIVE = "informative"  # any value but the gap value (count_distinct, last_value)
NULL_VALUE = "null"  # only NULL: a sum of NULLs and a gap 0 is 0; first_value skips NULLs
BELOW = "below"  # NULL or below the gap value (MAX)
ABOVE = "above"  # NULL or above the gap value (MIN)
BEATEN_BY_GAP = {"sum": NULL_VALUE, "max": BELOW, "min": ABOVE, "first_value": NULL_VALUE}


@dataclass(frozen=True)
class SourceShifts:
    """Change days of the windows over one source (an event property of ``event``): each day
    on which the source's value meets ``condition``, moved by each of ``shifts``."""

    source: str
    event: str
    condition: str
    shifts: tuple[int, ...]


@dataclass(frozen=True)
class SparseLayout:
    """Which days a user's rows are stored on; ``sparse`` False: every day (and why)."""

    sparse: bool
    shifts: tuple[int, ...] = (0,)
    fixed_starts: tuple[dt.date, ...] = ()
    # windows wholly in the future (from >= 1) lose their last day at the end of the model:
    # day_to - k + 1 for each such ``from`` k is a change day of every user
    end_offsets: tuple[int, ...] = ()
    reason: str | None = None
    gap_values: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    # the change days of windows and lifetime values are each source's days that can move them
    source_shifts: tuple[SourceShifts, ...] = ()
    # The registration day's: the days before it do not exist, so a window that ends before
    # its day (``to`` < 0) holds none of the user's days, and is NULL (count: 0), until the
    # registration day enters it, ``-to`` days later. No other offset moves a window because
    # of the registration day: the day enters and leaves as any day does (its own values are
    # its source's days: ``source_shifts``), and days that do not exist add nothing where a
    # gap day would add the gap value (a sum of 0s, or a MIN / MAX already holding it from
    # the registration day on, or from the first gap day after it, which enters as gap days
    # do).
    registration_shifts: tuple[int, ...] = (0,)
    # The windows ending before the day whose value on the next day each row stores
    # (``NEXT_DAY``): their change days right after a stored day are not stored.
    next_day: tuple[str, ...] = ()


def next_day_column(name: str) -> str:
    return NEXT_DAY.format(name)


def ends_before_the_day(prop: ResolvedProperty) -> bool:
    """A sliding window whose frame ends before the row's day (``to`` < 0)."""
    return prop.kind == "sliding_window_property" and prop.definition.relative_days_to < 0


def next_day_windows(project: ResolvedProject) -> tuple[str, ...]:
    """The windows of the config whose next-day value a sparse table may store
    (``NEXT_DAY``): readers ask for it beside the window; a table that does not store it
    (dense, or written before the column existed) stores every change day, and is read with
    the window's own value in its place."""
    return tuple(sorted(p.id for p in project.properties.values() if ends_before_the_day(p)))


def gap_value(prop: ResolvedProperty):
    """An event property's value on a day without events (its default), as a Python value."""
    return prop.definition.default_value


def layout_of(project: ResolvedProject, columns: list[str], next_day: bool = True) -> SparseLayout:
    """The layout of a model of ``columns`` (decided for the whole config, so that every
    job of one config stores the same days). ``next_day``: the windows that end before the
    day store their next-day value (``NEXT_DAY``), and their change days that follow a
    stored day are not stored (``_drop_next_days``)."""
    shifts: set[int] = {0}
    registered: set[int] = {0}
    by_source: dict[tuple[str, str, str], set[int]] = {}
    # (source, event, condition) -> shifts of the windows ending before the day; "registration"
    later: dict[tuple[str, str, str], set[int]] = {}
    later_windows: list[str] = []
    starts: set[dt.date] = set()
    ends: set[int] = set()
    gaps: dict[str, object] = {}
    for name in dependency_closure(project, list(columns)):
        prop = project.properties[name]
        if prop.kind not in ("sliding_window_property", "fixed_window_property", "lifetime_property"):
            continue
        source = project.properties.get(prop.source) if prop.source else None
        if source is None or source.kind != "event_property":
            kind = source.kind if source is not None else "another property"
            return SparseLayout(False, reason=f"{prop.id} reads {prop.source} ({kind.replace('_', ' ')}), "
                                              "whose value may change on days without events")
        value = gap_value(source)
        gaps[source.id] = value
        definition = prop.definition
        function = definition.merge_function if prop.kind == "lifetime_property" else definition.window_function
        constant = value is not None
        neutral = not constant or (function == "sum" and value == 0)
        idempotent = function in (LIFETIME_NEUTRAL_DEFAULT if prop.kind == "lifetime_property"
                                  else WINDOW_FUNCTIONS_NEUTRAL_DEFAULT)
        if not neutral and not idempotent:
            return SparseLayout(False, reason=f"{prop.id}: {function} over {source.id}, whose default "
                                              f"{value!r} changes the value on every day without events")
        beaten = BEATEN_BY_GAP.get(function, INFORMATIVE)
        if prop.kind == "sliding_window_property":
            low, high = definition.relative_days_from, definition.relative_days_to
            moved = {-high, 1 - low}  # the day enters the window, the day after it leaves
            target = later if next_day and high < 0 else by_source
            if target is later:
                later_windows.append(prop.id)
            target.setdefault((source.id, source.source_event, INFORMATIVE), set()).update(moved)
            if high < 0:
                if target is later:
                    later.setdefault(("", "", REGISTRATION), set()).add(-high)
                else:
                    registered.add(-high)
            if low >= 1:
                ends.add(low)
            if constant:  # a run of default days starts or ends inside the window
                target.setdefault((source.id, source.source_event, beaten), set()).update({1 - high, -low})
        else:
            if constant:  # the first default day after a day with events
                by_source.setdefault((source.id, source.source_event, beaten), set()).add(1)
                shifts.add(1)
            if prop.kind == "fixed_window_property":
                starts.add(definition.date_from)
    _drop_next_days(by_source, registered, later)
    for days in by_source.values():
        shifts |= days
    moves = tuple(SourceShifts(source, event, condition, tuple(sorted(days - {0})))
                  for (source, event, condition), days in sorted(by_source.items()) if days - {0})
    return SparseLayout(True, tuple(sorted(shifts | registered)), tuple(sorted(starts)), tuple(sorted(ends)),
                        gap_values=gaps, source_shifts=moves, registration_shifts=tuple(sorted(registered)),
                        next_day=tuple(sorted(later_windows)))


REGISTRATION = "registration"  # the registration day's shifts among the windows ending before the day
# a shift under the first condition is a change day wherever one under the second is
_BROADER = {NULL_VALUE: (NULL_VALUE, INFORMATIVE), BELOW: (BELOW, INFORMATIVE), ABOVE: (ABOVE, INFORMATIVE),
            INFORMATIVE: (INFORMATIVE,)}


def _drop_next_days(by_source: dict[tuple[str, str, str], set[int]], registered: set[int],
                    later: dict[tuple[str, str, str], set[int]]) -> None:
    """Add to ``by_source`` and ``registered`` the shifts of the windows ending before the
    day (``later``) that are not the day after a stored day. A window that stores its
    next-day value needs no row on the day after a stored row: every gap day after that row
    holds the next-day value, as long as the window changes only on stored days and the
    days right after them. A shift ``s`` of a source's days under a condition is such a day
    when ``s - 1`` is 0 (the source's day: a day with events, stored) or a shift stored for
    the same source under the same or a broader condition (the registration day's: ``s - 1``
    is 0 or a stored registration shift); the others are stored. Shifts are decided from the
    smallest, so that a stored one can make the next one redundant."""
    order = sorted((shift, key[2] != INFORMATIVE, key) for key, days in later.items() for shift in days)
    for shift, _narrower, (source, event, condition) in order:
        if condition == REGISTRATION:
            if shift - 1 not in registered:
                registered.add(shift)
            continue
        covered = shift - 1 == 0 or any(shift - 1 in by_source.get((source, event, broader), ())
                                        for broader in _BROADER[condition])
        if not covered:
            by_source.setdefault((source, event, condition), set()).add(shift)


def moves_value(project: ResolvedProject, layout: SparseLayout, moves: SourceShifts) -> exp.Expression:
    """The condition on a day's value of ``moves.source`` under which its shifted days are
    change days. A day holding the gap value is a gap day: it moves no window. With a
    non-NULL gap value, the gap days next to a day enter and leave the frames that hold
    that day; they change the value only when the day's own value does not already decide
    it (NULL, or beaten by the gap value)."""
    column, default = quoted(moves.source), layout.gap_values.get(moves.source)
    if default is None:
        return exp.Not(this=exp.Is(this=column, expression=exp.Null()))
    constant = cast(literal(default), project.properties[moves.source].data_type)
    missing = exp.Is(this=column.copy(), expression=exp.Null())
    if moves.condition == NULL_VALUE:
        return missing
    compare = {BELOW: exp.LT, ABOVE: exp.GT, INFORMATIVE: exp.NEQ}[moves.condition]
    return exp.or_(missing, compare(this=column.copy(), expression=constant))


def event_days_queries(project: ResolvedProject, dialect: str = ENGINE_DIALECT) -> list[exp.Select]:
    """(entity_id, date) of the days with rows in each event table that an event property of
    the config reads (after the table's ``where``), and of the activity days."""
    tables = sorted({p.source_event for p in project.properties.values()
                     if p.kind == "event_property" and p.source_event not in (ACTIVITY, REGISTRATIONS)})
    queries = []
    for event_id in tables:
        event = project.events[event_id]
        rows = table_rows(event, project, ROW_ALIAS, dialect)
        queries.append(exp.select(
            exp.alias_(column_path(event.entity_id_column, ROW_ALIAS), "entity_id", quoted=True),
            exp.alias_(event_date_expression(event), "date", quoted=True),
        ).from_(exp.alias_(exp.Subquery(this=rows), ROW_ALIAS, table=True, copy=False), copy=False).distinct(copy=False))
    queries.append(exp.select(quoted("entity_id"), quoted("date")).from_(
        exp.alias_(activity_relation(project, dialect), "a", table=True, copy=False), copy=False))
    return queries


# -- windows over the stored rows -------------------------------------------------------

def day_number(column: exp.Expression) -> exp.Expression:
    epoch = literal(dt.date(1970, 1, 1))
    return cast(exp.DateDiff(this=column, expression=epoch, unit=exp.var("DAY")), DataType.INTEGER)


def frame(kind: str, low: int | None, high: int) -> exp.WindowSpec:
    """A ``kind`` (ROWS or RANGE) frame from ``low`` (None: unbounded) to ``high`` days."""

    def side(offset: int | None):
        if offset is None:
            return "UNBOUNDED", "PRECEDING"
        if offset == 0:
            return "CURRENT ROW", None
        return exp.Literal.number(abs(offset)), "PRECEDING" if offset < 0 else "FOLLOWING"

    start, start_side = side(low)
    end, end_side = side(high)
    return exp.WindowSpec(kind=kind, start=start, start_side=start_side, end=end, end_side=end_side)


def range_frame(low: int | None, high: int) -> exp.WindowSpec:
    """RANGE frame over the day number (the stored rows of ``low`` .. ``high`` days around)."""
    return frame("RANGE", low, high)


def over(aggregate: exp.Expression, frame: exp.WindowSpec) -> exp.Window:
    return exp.Window(this=aggregate, partition_by=[quoted("entity_id")],
                      order=exp.Order(expressions=[exp.Ordered(this=quoted(DAY_NUMBER))]), spec=frame.copy())


def greatest(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    return exp.Case(ifs=[exp.If(this=exp.GT(this=a.copy(), expression=b.copy()), true=a.copy())], default=b.copy())


def least(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    return exp.Case(ifs=[exp.If(this=exp.LT(this=a.copy(), expression=b.copy()), true=a.copy())], default=b.copy())


def existing_days(first: exp.Expression, last: exp.Expression) -> exp.Expression:
    """How many days of ``first`` .. ``last`` (day numbers) exist: none when last < first."""
    span = exp.Add(this=exp.Sub(this=last, expression=first), expression=exp.Literal.number(1))
    return greatest(exp.Paren(this=span), exp.Literal.number(0))


def with_gap_days(function: str, value: exp.Expression, aggregate: exp.Expression, frame: exp.WindowSpec,
                  gap_days: exp.Expression, default, data_type: DataType) -> exp.Expression:
    """``aggregate`` (over the stored rows of ``frame``) corrected for ``gap_days`` days that
    hold ``default`` (None: NULL, which aggregates ignore)."""
    if default is None:
        return aggregate
    some = exp.GT(this=gap_days, expression=exp.Literal.number(0))
    constant = cast(literal(default), data_type)
    match function:
        case "sum":  # only a zero default is sparse: it turns "no value" into 0
            corrected = exp.Coalesce(this=aggregate.copy(), expressions=[constant])
        case "max" | "min":
            better = exp.GT if function == "max" else exp.LT
            corrected = exp.Case(ifs=[exp.If(this=exp.Or(this=exp.Is(this=aggregate.copy(), expression=exp.Null()),
                                                          expression=better(this=constant.copy(), expression=aggregate.copy())),
                                             true=constant.copy())], default=aggregate.copy())
        case "count_distinct":
            seen = over(exp.Max(this=exp.Case(ifs=[exp.If(this=exp.EQ(this=value.copy(), expression=constant.copy()),
                                                         true=exp.Literal.number(1))], default=exp.Literal.number(0))), frame)
            missing = exp.EQ(this=exp.Coalesce(this=seen, expressions=[exp.Literal.number(0)]), expression=exp.Literal.number(0))
            corrected = exp.Case(ifs=[exp.If(this=missing, true=exp.Add(this=aggregate.copy(), expression=exp.Literal.number(1)))],
                                 default=aggregate.copy())
        case other:  # pragma: no cover - layout_of keeps these dense
            raise AssertionError(other)
    return exp.Case(ifs=[exp.If(this=some, true=corrected)], default=aggregate)


def known_value(source: ResolvedProperty):
    """The one value an event property takes on every day with events, when its definition
    says so (``select`` a number and ``aggregate_function: none``: "had an event"), else None."""
    definition = source.definition
    if source.kind != "event_property" or definition.aggregate_function != "none":
        return None
    try:
        return float(str(definition.select).strip())
    except ValueError:
        return None


def without_gap_count(function: str, source: ResolvedProperty, default) -> bool:
    """Whether a window of ``function`` over ``source`` (gap value ``default``, not NULL)
    needs no count of the gap days in its frame: the source holds a known value on days with
    events that the default can neither replace nor beat (a SUM of a non-NULL value, the
    MAX of a value at least the default, the MIN of one at most it). Then the window is the
    aggregate over the stored rows, or the default when the frame holds none of them but
    some day that exists."""
    value = known_value(source)
    if value is None or isinstance(default, bool) or not isinstance(default, (int, float)):
        return False
    return {"sum": default == 0, "max": value >= default, "min": value <= default}.get(function, False)


def sliding(project: ResolvedProject, prop: ResolvedProperty, value: exp.Expression, aggregate: exp.Expression,
            default, day_to: dt.date, shift: int = 0) -> exp.Expression:
    """A sliding window of the sparse layout: ``aggregate`` (of ``value``, the source) over
    the stored rows of its RANGE frame, corrected for the frame's gap days (which hold the
    source's ``default``). ``shift``: its value that many days after the row's day (its
    frame moved; ``NEXT_DAY``)."""
    definition = prop.definition
    low, high = definition.relative_days_from + shift, definition.relative_days_to + shift
    frame = range_frame(low, high)
    aggregate = over(aggregate, frame)
    day = quoted(DAY_NUMBER)
    first = greatest(exp.Add(this=day.copy(), expression=exp.Literal.number(low)), quoted(REG_DAY))
    last = least(exp.Add(this=day.copy(), expression=exp.Literal.number(high)), end_day(day_to))
    source = project.properties[prop.source]
    if default is not None and without_gap_count(definition.window_function, source, default):
        known = known_value(source)
        if definition.window_function in ("max", "min") and default == 0 and known != 0:
            # the frame holds ``known`` on days with events and 0 on the others: its MAX (or
            # MIN) is ``known`` exactly when its sum is not 0, and the sum is the window a
            # SUM over the same frame computes (DuckDB computes one for both)
            hit = exp.NEQ(this=exp.Coalesce(this=over(exp.Sum(this=value.copy()), frame), expressions=[
                exp.Literal.number(0)]), expression=exp.Literal.number(0))
            aggregate = exp.Case(ifs=[exp.If(this=hit, true=cast(literal(known), source.data_type))],
                                 default=cast(literal(default), source.data_type))
        return filled(aggregate, existing_days(first, last), default, source.data_type)
    gap_days = exp.Sub(this=existing_days(first, last), expression=stored_rows_in(frame))
    return with_gap_days(definition.window_function, value, aggregate, frame, gap_days, default, source.data_type)


def filled(aggregate: exp.Expression, existing: exp.Expression, default, data_type: DataType) -> exp.Expression:
    """``aggregate`` over the stored rows of a frame (``without_gap_count``), ``default`` when
    it holds none of them, NULL when none of its days exists."""
    some = exp.GT(this=existing, expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=some, true=exp.Coalesce(this=aggregate, expressions=[cast(literal(default), data_type)]))])


def stored_rows_in(frame: exp.WindowSpec, condition: exp.Expression | None = None) -> exp.Expression:
    counted = exp.Star() if condition is None else exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))])
    return over(exp.Count(this=counted), frame)


def end_day(day: dt.date) -> exp.Expression:
    return day_number(literal(day))


# -- the spine: each user's change days, and helpers the model query shares --------------

def date_literal(day: dt.date) -> exp.Expression:
    return literal(day)


def union(selects: list[exp.Expression], distinct: bool) -> exp.Expression:
    result = selects[0]
    for select in selects[1:]:
        result = exp.Union(this=result, expression=select, distinct=distinct)
    return result


def last_rows(table: str, day: dt.date, since: dt.date | None = None) -> exp.Select:
    """Each user's last row of ``table`` on or before ``day`` (the value carried to that day),
    among the rows from ``since`` on (when every user has one there)."""
    ranked = exp.select(exp.Star(), exp.alias_(exp.Window(
        this=exp.RowNumber(), partition_by=[quoted("entity_id")],
        order=exp.Order(expressions=[exp.Ordered(this=quoted("date"), desc=True)])), "__rank", quoted=True)).from_(table).where(
        exp.LTE(this=quoted("date"), expression=date_literal(day)))
    if since is not None:
        ranked = ranked.where(exp.GTE(this=quoted("date"), expression=date_literal(since)))
    return exp.select(exp.Star()).from_(
        exp.alias_(exp.Subquery(this=ranked), "r", table=True)).where(exp.EQ(this=quoted("__rank"), expression=exp.Literal.number(1)))


def window_tail(project: ResolvedProject, layout: SparseLayout, table: str, sources: set[str],
                lower: dt.date | None, resume: dt.date) -> exp.Select:
    """The rows of ``table`` (stored rows before ``resume``) that windows of the days from
    ``resume`` on read: from ``lower`` on, those whose window ``sources`` hold a value other
    than their gap value. A row that holds every gap value counts as a gap day (the frame's
    gap days are arithmetic), so leaving it out changes no window value."""
    informative = []
    for name in sorted(sources):
        column, default = quoted(name), layout.gap_values.get(name)
        if default is None:
            informative.append(exp.Not(this=exp.Is(this=column, expression=exp.Null())))
        else:
            constant = cast(literal(default), project.properties[name].data_type)
            informative.append(exp.or_(exp.Is(this=column.copy(), expression=exp.Null()),
                                       exp.NEQ(this=column.copy(), expression=constant)))
    rows = exp.select(exp.Star()).from_(table).where(exp.LT(this=quoted("date"), expression=date_literal(resume)))
    if lower is not None:
        rows = rows.where(exp.GTE(this=quoted("date"), expression=date_literal(lower)))
    return rows.where(exp.or_(*[exp.paren(c) for c in informative]) if informative else exp.false())


def within(query: exp.Select, lower: exp.Expression | None, upper: exp.Expression,
            user_filter: exp.Expression | None = None) -> exp.Select:
    """Restrict a (entity_id, date) query to a day range (and to some users). ``query``
    becomes part of the result as it is (callers pass a tree of their own)."""
    wrapped = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=query), "w", table=True, copy=False),
                                           copy=False)
    if user_filter is not None:
        wrapped = wrapped.where(user_filter.copy(), copy=False)
    wrapped = wrapped.where(exp.LTE(this=quoted("date"), expression=upper.copy()), copy=False)
    if lower is not None:
        wrapped = wrapped.where(exp.GTE(this=quoted("date"), expression=lower.copy()), copy=False)
    return wrapped


def spine_ctes(project: ResolvedProject, layout: SparseLayout, request, dialect: str = ENGINE_DIALECT,
               event_values: dict[str, tuple[str, set[str]]] | None = None) -> list[tuple[str, exp.Expression]]:
    """The change days of each user (sql/sparse.py), from the first computed day on: the
    CTEs ``event_days``, the window sources' values (``moves<i>``, unless ``event_values``
    names, for an event table, a CTE of the values of those sources over the same days: a
    job computing every day) and ``spine``."""
    lower = date_literal(request.compute_from) if request.compute_from else None
    # a day with events moves up to max(shifts) days later: read events from that far back
    # (before the resume day, the stored days are the spine: only later days are derived)
    first_derived = request.resume_from or request.compute_from
    reach_back = (date_literal(first_derived - dt.timedelta(days=max(layout.shifts)))
                  if first_derived else None)
    days = [within(q, reach_back, date_literal(request.day_to), request.user_filter)
            for q in event_days_queries(project, dialect)]
    days.append(exp.select(quoted("entity_id"), exp.alias_(quoted("registration_date"), "date", quoted=True)).from_("users"))
    ctes: list[tuple[str, exp.Expression]] = [("event_days", union(days, distinct=True))]

    def landing(query: exp.Select, shift: int, column: str = "date") -> exp.Select:
        if first_derived:  # only the days that land on first_derived .. day_to (the spine's days)
            query = query.where(exp.Between(
                this=quoted(column), low=date_literal(first_derived - dt.timedelta(days=shift)),
                high=date_literal(request.day_to - dt.timedelta(days=shift))), copy=False)
        return query

    def moved(column: str, shift: int) -> exp.Expression:
        day = quoted(column) if shift == 0 else cast(exp.DateAdd(
            this=quoted(column), expression=exp.Literal.number(shift), unit=exp.var("DAY")), DataType.DATE)
        return exp.alias_(day, "date", quoted=True)

    candidates = [landing(exp.select(quoted("entity_id"), quoted("date")).from_("event_days"), 0)]
    for shift in layout.registration_shifts:  # the registration day enters windows that end before the day
        if shift:
            candidates.append(landing(exp.select(quoted("entity_id"), moved("registration_date", shift)).from_("users"),
                                      shift, "registration_date"))
    sources: dict[str, str] = {}  # event table -> the CTE of its window sources' values
    for event_id in sorted({m.event for m in layout.source_shifts}):
        names = {m.source for m in layout.source_shifts if m.event == event_id}
        computed, held = (event_values or {}).get(event_id, (None, set()))
        if computed is not None and names <= held and not first_derived:
            sources[event_id] = computed
            continue
        read = [project.properties[name] for name in sorted(names)]
        name = f"moves{len(ctes)}"
        ctes.append((name, within(event_properties_query(project, event_id, read, dialect), reach_back,
                                  date_literal(request.day_to), request.user_filter)))
        sources[event_id] = name
    conditions: dict[tuple[str, int], list[exp.Expression]] = {}
    for moves in layout.source_shifts:
        for shift in moves.shifts:
            conditions.setdefault((moves.event, shift), []).append(moves_value(project, layout, moves))
    for (event_id, shift), when in sorted(conditions.items(), key=lambda item: item[0]):
        candidates.append(landing(exp.select(quoted("entity_id"), moved("date", shift)).from_(sources[event_id]).where(
            exp.or_(*[exp.paren(c) for c in when]) if len(when) > 1 else when[0], copy=False), shift))
    month = exp.DateTrunc(this=quoted("registration_date"), unit=exp.Literal.string("MONTH"))
    first_anchor = exp.DateAdd(this=cast(month, DataType.DATE), expression=exp.Literal.number(1), unit=exp.var("MONTH"))
    if first_derived:  # the anchors from first_derived on
        following = (first_derived.replace(day=1) + dt.timedelta(days=31)).replace(day=1)
        first_anchor = exp.func("GREATEST", cast(first_anchor, DataType.DATE),
                                date_literal(first_derived if first_derived.day == 1 else following))
    anchors = exp.func("generate_series", first_anchor, date_literal(request.day_to),
                       exp.Interval(this=exp.Literal.string("1"), unit=exp.var("MONTH")))
    candidates.append(exp.select(quoted("entity_id"), exp.alias_(cast(exp.Unnest(expressions=[anchors]), DataType.DATE),
                                                                 "date", quoted=True)).from_("users"))
    if request.extra_days_sql is not None:
        extra = exp.maybe_parse(request.extra_days_sql, dialect=dialect)
        candidates.append(exp.select(quoted("entity_id"), quoted("date")).from_(
            exp.alias_(exp.Subquery(this=extra), "x", table=True)))
    for offset in layout.end_offsets:
        candidates.append(exp.select(quoted("entity_id"), exp.alias_(
            date_literal(request.day_to - dt.timedelta(days=offset - 1)), "date", quoted=True)).from_("users"))
    for start in layout.fixed_starts:
        candidates.append(exp.select(quoted("entity_id"), exp.alias_(date_literal(start), "date", quoted=True)).from_("users"))
    first = quoted("registration_date", "u")
    if request.compute_from is not None:
        first = exp.func("GREATEST", first, date_literal(request.compute_from))
    if request.resume_from is not None:  # before the resume day, the stored days are the spine
        first = exp.func("GREATEST", first, date_literal(request.resume_from))
    # built in place (copy=False): each builder step would otherwise copy the union so far
    spine = exp.select(quoted("entity_id", "c"), quoted("date", "c")).distinct(copy=False).from_(
        exp.alias_(exp.Subquery(this=union(candidates, distinct=False)), "c", table=True, copy=False), copy=False).join(
        exp.to_table("users").as_("u"), on=exp.EQ(this=quoted("entity_id", "c"), expression=quoted("entity_id", "u")),
        copy=False).where(
        exp.and_(exp.GTE(this=quoted("date", "c"), expression=first),
                 exp.LTE(this=quoted("date", "c"), expression=date_literal(request.day_to))), copy=False)
    parts = [spine]
    if request.resume_from is not None:
        stored = exp.select(quoted("entity_id"), quoted("date")).from_("stored").where(
            exp.LT(this=quoted("date"), expression=date_literal(request.resume_from)))
        if lower is not None:
            stored = stored.where(exp.GTE(this=quoted("date"), expression=lower.copy()))
        parts.append(stored)
    return ctes + [("spine", union(parts, distinct=True))]
