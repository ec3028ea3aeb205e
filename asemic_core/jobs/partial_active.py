"""A partial update whose columns can change only on activity days writes only those
columns, on the rows of the activity part (seam.ACTIVE_PARTITION: rows of activity and
registration days), into a column table (seam.ColumnTable; `compact` folds it into the
daily table later).

An event property holds its default on every day without its events. Over activity
tables (``entity_activity`` or tables tagged ``activity_event``) its events make the day an
activity day; over other tables, the data decide: one query checks that none of its
values other than the default falls on a model day outside the activity part (purchases
made on days with a session, say). When, besides, the stored other part already holds the
default in the column, recomputing the column on every stored day changes only the
activity part: a GROUP BY of the property's events joined to the stored activity rows, one
month at a time, written into the column table (the daily table's files are kept).
The day counters every KPI reads (days_since_last_active, cohort_day, ...) are kept as
stored when their definition is unchanged: the materialized days' events are what they
were (SEMANTICS 8; a rewind is the job for changed history).

Anything else (a window, a computed property, a counter whose definition changed, values
off the activity days, a table without the split) takes the general path
(``incremental.recompute_columns``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

from sqlglot import exp

from asemic_core.backend.seam import DATE, PRESENT, ROW, TableSnapshot
from asemic_core.config.models import DataType
from asemic_core.jobs.days import calendar_months, model_range
from asemic_core.jobs.writing import day_stats, stream, user_days
from asemic_core.progress import Reporter
from asemic_core.semantic.activity import is_activity_event
from asemic_core.semantic.hashing import definition_hashes
from asemic_core.semantic.model import ResolvedProject, ResolvedProperty
from asemic_core.sql.literals import literal
from asemic_core.sql.render import render
from asemic_core.sql.sources import event_properties_query, quoted
from asemic_core.sql.sparse import date_literal, within
from asemic_core.sql.types import cast
from asemic_core.storage.store import DAILY, MAX_COLUMN_TABLES, USERS, Work



def _by_source_event(project: ResolvedProject, names: list[str]) -> dict[str, list[ResolvedProperty]]:
    """The event properties ``names`` grouped by source event, in the order of the event ids."""
    by_event: dict[str, list[ResolvedProperty]] = {}
    for name in names:
        prop = project.properties[name]
        by_event.setdefault(prop.source_event, []).append(prop)
    return dict(sorted(by_event.items()))


def activity_targets(executor, project: ResolvedProject, work: Work, daily: TableSnapshot | None,
                     targets: list[str], drop: list[str]) -> dict[str, list[ResolvedProperty]] | None:
    """The targets to compute when only the activity part needs rewriting (the others are
    kept as stored, their definitions unchanged), grouped by source event, or None: take
    the general path."""
    if daily is None or not daily.split or drop:
        return None
    hashes = definition_hashes(project)
    computed = []
    for name in targets:
        state = work.columns.get(name)
        prop = project.properties.get(name)
        if prop is not None and prop.kind == "event_property" and name in daily.columns and state is not None:
            computed.append(name)
        elif not (state is not None and state.def_hash == hashes.get(name)
                  and project.properties.get(name) is not None and project.properties[name].is_base):
            return None
    if not computed:
        return None
    # the other part must hold each column's (new) default already: the files' statistics say
    # so for an integer column holding it everywhere, else a query counts the other values
    rest = daily.other_part()
    unknown = [name for name in computed if not _default_everywhere(work, rest, project.properties[name])
               ] if rest.files else []
    if unknown:
        checks = [exp.alias_(_differs(project, name), f"c{i}") for i, name in enumerate(unknown)]
        found = executor.rows(render(exp.select(*checks).from_(
            exp.alias_(exp.Subquery(this=executor.relation(rest, unknown)), "r", table=True))))[0]
        if any(n for n in found):
            return None
    by_event = _by_source_event(project, computed)
    elsewhere = {event_id: props for event_id, props in by_event.items() if not is_activity_event(project, event_id)}
    if elsewhere and _values_off_the_activity_part(executor, project, work, daily, elsewhere):
        return None
    return by_event


def _values_off_the_activity_part(executor, project: ResolvedProject, work: Work, daily: TableSnapshot,
                                  by_event: dict[str, list[ResolvedProperty]]) -> bool:
    """Whether an event property of ``by_event`` (over tables that are not activity tables)
    takes another value than its default on a model day outside the activity part: its
    events on a registered user's day that is not an activity or registration day."""
    model_first, watermark = model_range(work)
    users = work.snapshot(USERS)
    if users is None:
        return True
    keys = exp.alias_(exp.Subquery(this=executor.relation(daily.active_only(), ["entity_id", "date"])), "a", table=True)
    registered = exp.alias_(exp.Subquery(this=executor.relation(users, ["entity_id", "registration_date"])), "u",
                            table=True)
    for event_id, props in by_event.items():
        values = within(event_properties_query(project, event_id, props, executor.dialect),
                        date_literal(model_first), date_literal(watermark))
        differs = exp.or_(*[exp.Not(this=exp.NullSafeEQ(this=quoted(p.id, "e"), expression=_default(p)))
                            for p in props])
        query = exp.select(exp.Count(this=exp.Star())).from_(exp.alias_(exp.Subquery(this=values), "e", table=True)).join(
            registered, on=exp.and_(exp.EQ(this=quoted("entity_id", "e"), expression=quoted("entity_id", "u")),
                                    exp.GTE(this=quoted("date", "e"), expression=quoted("registration_date", "u")))).join(
            keys, join_type="LEFT", on=exp.and_(*[exp.EQ(this=quoted(k, "e"), expression=quoted(k, "a"))
                                                  for k in ("entity_id", "date")])).where(
            exp.and_(exp.Is(this=quoted("entity_id", "a"), expression=exp.Null()), differs))
        if executor.rows(render(query, executor.dialect))[0][0]:
            return True
    return False


def _default_everywhere(work: Work, rest: TableSnapshot, prop: ResolvedProperty) -> bool:
    """Whether the statistics of ``rest``'s files show the integer property's default on every row."""
    holds = getattr(work.store.tables, "holds_everywhere", None)
    default = prop.definition.default_value
    if holds is None or prop.data_type != DataType.INTEGER or type(default) is not int:
        return False
    return holds(rest, prop.id, default)


def _default(prop) -> exp.Expression:
    """An event property's value on a day without its events, typed."""
    return cast(literal(prop.definition.default_value), prop.data_type)


def _differs(project: ResolvedProject, name: str) -> exp.Expression:
    """How many rows hold another value than the property's default."""
    return exp.Sum(this=exp.Case(ifs=[exp.If(this=exp.NullSafeEQ(this=quoted(name),
                                                                   expression=_default(project.properties[name])),
                                             true=exp.Literal.number(0))], default=exp.Literal.number(1)))


def recompute_activity_columns(executor, project: ResolvedProject, work: Work,
                               by_event: dict[str, list[ResolvedProperty]], reporter: Reporter,
                               progress) -> tuple[list, dict]:
    """Recompute the event properties ``by_event`` (grouped by source event, as
    ``activity_targets`` gives them) on the stored activity rows, into a column table of
    their own: each activity row's day and position in its file, and these columns (the
    daily table is kept as it is). With ``MAX_COLUMN_TABLES`` column tables already holding other columns, they
    are folded instead: the activity part of the daily table is written with every column."""
    model_first, watermark = model_range(work)
    daily = work.snapshot(DAILY)
    mark = time.monotonic()
    active = daily.active_only()
    months = calendar_months(model_first, watermark)
    computed = [prop.id for props in by_event.values() for prop in props]
    others = [t for t in work.column_tables()
              if any(s.table == t and name not in computed for name, s in work.columns.items())]
    # a column table's row is a position in its day's one file of the activity part
    files_per_day = Counter(f.day for f in active.files)
    fold = len(others) >= MAX_COLUMN_TABLES or any(n != 1 for n in files_per_day.values())
    reporter.start(len(months), f"Recomputing {len(computed)} column(s) on activity days")
    statements = []
    for first, last in months:
        month = active.between(first, last)
        read = executor.relation(month) if fold else executor.relation(month.plain(), ["entity_id", DATE],
                                                                        row_numbers=True)
        rows = exp.alias_(exp.Subquery(this=read), "o", table=True)
        values, joins = {}, []
        for index, (event_id, props) in enumerate(by_event.items()):
            alias = f"e{index}"
            query = event_properties_query(project, event_id, props, executor.dialect)
            query = within(query.select(exp.alias_(exp.true(), PRESENT, quoted=True)), date_literal(first),
                           date_literal(last))
            joins.append((exp.alias_(exp.Subquery(this=query), alias, table=True),
                          exp.and_(*[exp.EQ(this=quoted(k, "o"), expression=quoted(k, alias)) for k in ("entity_id", "date")])))
            for prop in props:
                values[prop.id] = exp.Case(ifs=[exp.If(this=quoted(PRESENT, alias),
                                                       true=cast(quoted(prop.id, alias), prop.data_type))],
                                           default=_default(prop))
        written_columns = daily.columns if fold else (DATE, ROW, *computed)
        select = exp.select(*[exp.alias_(values[c], c, quoted=True) if c in values else quoted(c, "o")
                              for c in written_columns]).from_(rows)
        for table, on in joins:
            select = select.join(table, join_type="LEFT", on=on)
        statements.append(render(select, executor.dialect))

    def written(index: int) -> None:
        reporter.advance()
        progress(index + 1, len(statements))

    if fold:
        work.write(DAILY, stream(executor, statements, written), replace_active=True)
        work.merge_column_tables()
    else:
        table = work.store.new_column_table()
        work.write(table, stream(executor, statements, written), replace_schema=True)
        work.columns.update({name: replace(work.columns[name], table=table) for name in computed})
    reporter.finish()
    seconds = time.monotonic() - mark
    return day_stats(user_days(executor, project, model_first, watermark), model_first, watermark, seconds), {
        "compute_and_write_activity_part": seconds}
