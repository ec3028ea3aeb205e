"""Per-user state: what an incremental update reads instead of the event history.

- The ``users`` table: an update appends the users whose first registration row is on a
  recomputed day (``since`` .. the new last day) and who are not stored yet, instead of
  rebuilding the table from every registration row; a rewind keeps the table when the
  users registered on its days are the ones stored (``rewind_users``).
- The ``user_state`` table: each entity's last activity day through the table's
  ``state_day`` (entities not yet registered included: activity before registration
  counts, SEMANTICS 4). ``state_day`` is the watermark less ``lookback_days`` and the
  widest look-ahead of the windows: the day before the first day the next update
  recomputes, so that update's users' last activity before its days is the state's (or
  a later activity it reads anyway). An update carries the state forward with the
  activity of the days after it; a refresh or a rewind rebuilds it from the history.

Both are written in the job's model version, with the daily table (one publish).
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from asemic_core.config.models import DataType
from asemic_core.jobs.days import reach
from asemic_core.jobs.writing import users_query
from asemic_core.semantic.base_properties import LAST_ACTIVITY_DATE
from asemic_core.semantic.model import REGISTRATIONS, ResolvedProject
from asemic_core.sql.model_users import STATE_COLUMN
from asemic_core.sql.render import render
from asemic_core.sql.sources import activity_relation, quoted, registrations_relation
from asemic_core.sql.sparse import date_literal
from asemic_core.sql.types import cast
from asemic_core.storage.schema import daily_columns, generate_schema
from asemic_core.storage.store import DAILY, USER_STATE, USERS, Work

STATE_DAY = "state_day"
USERS_FILES = 32  # appends to the users table before an update rewrites it in one file


def state_day(project: ResolvedProject, watermark: dt.date) -> dt.date:
    """The last day the activity state holds once the model ends on ``watermark``."""
    settings = project.entity.model_settings if project.entity else None
    lookback = settings.lookback_days if settings else 0
    return watermark - dt.timedelta(days=lookback + reach(project, daily_columns(project)).forward)


def read_state(executor, work: Work) -> tuple[str, dt.date] | None:
    """(SQL of entity_id, last_active_date; its state day) of the job's base version, or None."""
    snapshot = work.snapshot(USER_STATE)
    if snapshot is None or not snapshot.files:
        return None
    relation = executor.relation(snapshot, ["entity_id", STATE_COLUMN, STATE_DAY])
    rows = executor.rows(render(exp.select(exp.Max(this=quoted(STATE_DAY))).from_(
        exp.alias_(exp.Subquery(this=relation), "s", table=True))))
    if not rows or rows[0][0] is None:
        return None
    entities = exp.select(quoted("entity_id"), quoted(STATE_COLUMN)).from_(
        exp.alias_(exp.Subquery(this=relation), "s", table=True)).where(
        exp.Not(this=exp.Is(this=quoted("entity_id"), expression=exp.Null())))
    return render(entities), rows[0][0]


def stored_state(executor, project: ResolvedProject, work: Work, resume: dt.date, users) -> tuple[str, dt.date] | None:
    """The activity state through the day before ``resume`` of a job that recomputes from
    ``resume`` on over unchanged earlier events (a rewind), without the activity history, for
    a model query with ``state_in_stored_rows``: each user registered before ``resume`` has a
    stored row since the first of that day's month (every day, dense) whose
    ``last_activity_date`` is their last activity before ``resume`` (activity days are stored
    rows; days before registration count), which the model query reads from the stored rows
    it reads anyway; the state returned holds the users of ``users`` registered later: their
    activity before ``resume`` (a scan of the activity tables joined to those few users).
    None when the daily table holds no activity-based ``last_activity_date`` (the config
    defines its own, or the table predates the column)."""
    daily = work.snapshot(DAILY)
    prop = project.properties.get(LAST_ACTIVITY_DATE)
    if daily is None or LAST_ACTIVITY_DATE not in daily.columns or prop is None or not prop.is_base:
        return None
    later = exp.select(quoted("entity_id", "a"), exp.alias_(exp.Max(this=quoted("date", "a")), STATE_COLUMN,
                                                            quoted=True)).from_(
        exp.alias_(activity_relation(project, executor.dialect, per_day=False), "a", table=True)).join(
        exp.alias_(exp.Subquery(this=users.copy()), "u", table=True),
        on=exp.EQ(this=quoted("entity_id", "a"), expression=quoted("entity_id", "u"))).where(exp.and_(
            exp.GTE(this=quoted("registration_date", "u"), expression=date_literal(resume)),
            exp.LT(this=quoted("date", "a"), expression=date_literal(resume)))).group_by(quoted("entity_id", "a"))
    return render(later, executor.dialect), resume - dt.timedelta(days=1)


def _state_query(project: ResolvedProject, day: dt.date, previous: tuple[str, dt.date] | None) -> str:
    """The state through ``day``: ``previous`` and the activity after its day, or the whole
    activity history; a row without entity carries the day (an empty state has one too)."""
    activity = exp.select(quoted("entity_id"), exp.alias_(quoted("date"), STATE_COLUMN, quoted=True)).from_(
        exp.alias_(activity_relation(project, per_day=False), "a", table=True)).where(
        exp.LTE(this=quoted("date"), expression=date_literal(day)))
    rows: exp.Expression = activity
    if previous is not None:
        activity = activity.where(exp.GT(this=quoted("date"), expression=date_literal(previous[1])))
        rows = exp.Union(this=exp.select(quoted("entity_id"), quoted(STATE_COLUMN)).from_(
            exp.alias_(exp.Subquery(this=exp.maybe_parse(previous[0])), "p", table=True)), expression=activity,
            distinct=False)
    merged = exp.select(quoted("entity_id"), exp.alias_(exp.Max(this=quoted(STATE_COLUMN)), STATE_COLUMN, quoted=True),
                        exp.alias_(date_literal(day), STATE_DAY, quoted=True)).from_(
        exp.alias_(exp.Subquery(this=rows), "r", table=True)).group_by(quoted("entity_id"))
    key_type = project.properties["entity_id"].data_type
    marker = exp.select(exp.alias_(cast(exp.Null(), key_type), "entity_id", quoted=True),
                        exp.alias_(cast(exp.Null(), DataType.DATE), STATE_COLUMN, quoted=True),
                        exp.alias_(date_literal(day), STATE_DAY, quoted=True))
    return render(exp.Union(this=merged, expression=marker, distinct=False))


def write_state(executor, project: ResolvedProject, work: Work, watermark: dt.date,
                previous: tuple[str, dt.date] | None = None) -> dt.date:
    """Write the state of a model ending on ``watermark`` (continuing ``previous`` when it
    ends on or before that state's day, else from the activity history); its day."""
    day = state_day(project, watermark)
    if previous is not None and previous[1] == day:
        return day  # the table the job started from is already that state
    usable = previous if previous is not None and previous[1] < day else None
    work.write(USER_STATE, executor.batches(_state_query(project, day, usable)), replace_schema=True)
    return day


def added_users_query(project: ResolvedProject, stored: exp.Expression, since: dt.date, last: dt.date) -> exp.Select:
    """The users an update of days ``since`` .. ``last`` adds to the ``stored`` users (a
    relation with ``entity_id``; taken as it is): those whose first registration row (from
    ``since`` on) is on or before ``last`` and who are not stored."""
    registration = project.events[REGISTRATIONS]
    extra = [c for c in registration.columns if c not in ("entity_id", "ts", "date")]
    stored = exp.alias_(exp.Subquery(this=stored), "s", table=True, copy=False)
    added = exp.select(
        quoted("entity_id", "n"), exp.alias_(quoted("ts", "n"), "registration_ts", quoted=True),
        exp.alias_(quoted("date", "n"), "registration_date", quoted=True), *[quoted(c, "n") for c in extra],
    ).from_(exp.alias_(registrations_relation(project, since=since), "n", table=True, copy=False), copy=False).join(
        stored, on=exp.EQ(this=quoted("entity_id", "n"), expression=quoted("entity_id", "s")),
        join_type="LEFT", copy=False).where(exp.and_(
            exp.LTE(this=quoted("date", "n"), expression=date_literal(last)),
            exp.Is(this=quoted("entity_id", "s"), expression=exp.Null())), copy=False)
    return added.order_by(quoted("entity_id", "n"), copy=False)


def write_users(executor, project: ResolvedProject, work: Work, since: dt.date, last: dt.date):
    """The users table of an update of ``since`` .. ``last`` (the stored users and the added
    ones: appended, or the table rewritten once appends left more than ``USERS_FILES``
    files); the written snapshot."""
    stored = work.snapshot(USERS)
    columns = [c.name for c in generate_schema(project).table(USERS).columns]
    if stored is None or not stored.files or list(stored.columns) != columns:  # none yet, or other columns
        return work.write(USERS, executor.batches(users_query(project, last)), replace_schema=True)
    added = added_users_query(project, executor.relation(stored, ["entity_id"]), since, last)
    if len(stored.files) < USERS_FILES:
        return work.write(USERS, executor.batches(render(added)), append=True)
    both = exp.Union(this=executor.relation(stored), expression=added, distinct=False)
    compacted = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=both), "u", table=True)).order_by(
        quoted("entity_id"))
    return work.write(USERS, executor.batches(render(compacted)), replace_schema=True)


def rewind_users(executor, project: ResolvedProject, work: Work, since: dt.date, last: dt.date):
    """The users table of a rewind whose events changed from ``since`` on (those before are
    unchanged, so are the users whose first registration row is before it): the stored
    table when its users registered from ``since`` on are the ones the registration tables
    give now (nothing is written), else those users replaced. The snapshot to read."""
    stored = work.snapshot(USERS)
    columns = [c.name for c in generate_schema(project).table(USERS).columns]
    if stored is None or not stored.files or list(stored.columns) != columns:
        return work.write(USERS, executor.batches(users_query(project, last)), replace_schema=True)
    rows = executor.relation(stored, columns)
    kept = exp.select(*[quoted(c) for c in columns]).from_(exp.alias_(exp.Subquery(this=rows.copy()), "s", table=True),
                                                           copy=False).where(
        exp.LT(this=quoted("registration_date"), expression=date_literal(since)), copy=False)
    later = exp.select(*[quoted(c) for c in columns]).from_(exp.alias_(exp.Subquery(this=rows), "s", table=True),
                                                            copy=False).where(
        exp.GTE(this=quoted("registration_date"), expression=date_literal(since)), copy=False)
    added = exp.select(*[quoted(c) for c in columns]).from_(exp.alias_(exp.Subquery(this=added_users_query(
        project, exp.select(quoted("entity_id")).from_(exp.Subquery(this=kept.copy()), copy=False), since, last)),
        "a", table=True, copy=False), copy=False)
    # one row per user on each side: they differ when a user is on one side only or has other
    # values (a user without an id is never matched, so it counts as a difference)
    differ = exp.select(exp.Count(this=exp.Star())).from_(
        exp.alias_(exp.Subquery(this=later), "l", table=True, copy=False), copy=False).join(
        exp.alias_(exp.Subquery(this=added.copy()), "a", table=True, copy=False), join_type="FULL OUTER",
        on=exp.EQ(this=quoted("entity_id", "l"), expression=quoted("entity_id", "a")), copy=False).where(
        exp.or_(*[exp.NullSafeNEQ(this=quoted(c, "l"), expression=quoted(c, "a")) for c in columns], copy=False),
        copy=False)
    if executor.rows(render(differ, executor.dialect))[0][0] == 0:
        return stored
    both = exp.union(kept, added, distinct=False)
    ordered = exp.select(exp.Star()).from_(exp.alias_(exp.Subquery(this=both), "u", table=True)).order_by(
        quoted("entity_id"))
    return work.write(USERS, executor.batches(render(ordered, executor.dialect)), replace_schema=True)
