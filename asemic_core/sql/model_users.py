"""The first CTEs of the model query: the users (from the registration tables, or from a
users table an incremental job already holds) and each user's last activity before the
first computed day (from the activity history, or from the per-user activity state)."""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from asemic_core.semantic.base_properties import LAST_ACTIVITY_DATE
from asemic_core.semantic.model import REGISTRATIONS, ResolvedProject, ResolvedProperty
from asemic_core.sql.sources import quoted, registrations_relation
from asemic_core.sql.sparse import date_literal
from asemic_core.sql.types import cast

STATE_COLUMN = "last_active_date"  # the activity state's column: last activity through its day


def registration_value(project: ResolvedProject, prop: ResolvedProperty, alias: str | None = None) -> exp.Expression:
    """A registration property's value from a row of ``users_cte`` (``alias``)."""
    column = prop.definition.source_column or prop.id
    column = project.events[REGISTRATIONS].column(column) or column
    if column in ("entity_id", "date", "ts"):
        source = quoted({"date": "registration_date", "ts": "registration_ts", "entity_id": "entity_id"}[column], alias)
    else:
        source = quoted(f"__reg_{column}", alias)
    return cast(source, prop.data_type)


def users_cte(project: ResolvedProject, request, dialect: str) -> exp.Select:
    """entity_id, registration_date, registration_ts and ``__reg_<column>`` of each user
    registered by ``day_to`` (``request.users_sql``: read from a users table)."""
    registration = project.events[REGISTRATIONS]
    extra = [c for c in registration.columns if c not in ("entity_id", "ts", "date")]
    if request.users_sql is not None:
        source = exp.Subquery(this=exp.maybe_parse(request.users_sql, dialect=dialect))
        day, ts = quoted("registration_date"), quoted("registration_ts")
    else:
        source = registrations_relation(project, dialect)
        day, ts = quoted("date"), quoted("ts")
    query = exp.select(
        quoted("entity_id"),
        exp.alias_(day.copy(), "registration_date", quoted=True, copy=False),
        exp.alias_(ts, "registration_ts", quoted=True),
        *[exp.alias_(quoted(c), f"__reg_{c}", quoted=True) for c in extra],
    ).from_(exp.alias_(source, "reg", table=True, copy=False), copy=False)  # in place: source may be large
    query = query.where(exp.LTE(this=day, expression=date_literal(request.day_to)), copy=False)
    if request.user_filter is not None:
        query = query.where(request.user_filter.copy(), copy=False)
    return query


def activity_lower_bound(request):
    """The first activity day the query reads: the day after the state's, else none (all history)."""
    if request.activity_state_sql is None:
        return None
    return date_literal(request.activity_state_day + dt.timedelta(days=1))


def prior_activity_cte(request, dialect: str, stored_state: str | None = None) -> exp.Select:
    """Each user's latest activity before the first computed day (the resume day of
    incremental work; days before registration count). With the activity state: its last active day (through the state's day, before
    the first computed output day) or a later activity before that day. ``stored_state``: the CTE
    of each user's last stored row before the resume day, whose ``last_activity_date`` is the
    state of the users the activity state leaves out (``request.state_in_stored_rows``)."""
    start = quoted("registration_date", "u")
    # incremental work: every activity before the resume day (the stored rows of the days
    # before it may be left out of the spine, sparse.window_tail)
    first = request.resume_from or request.compute_from
    if first is not None:
        start = exp.func("GREATEST", start, date_literal(first))
    rows: exp.Expression = exp.select(quoted("entity_id"), quoted("date"),
                                      exp.alias_(exp.false(), "__state", quoted=True)).from_("activity")
    condition = exp.LT(this=quoted("date", "a"), expression=start)
    if request.activity_state_sql is not None:
        state = exp.maybe_parse(request.activity_state_sql, dialect=dialect)
        rows = exp.Union(this=rows, expression=exp.select(
            quoted("entity_id"), exp.alias_(quoted(STATE_COLUMN), "date", quoted=True),
            exp.alias_(exp.true(), "__state", quoted=True)).from_(exp.alias_(exp.Subquery(this=state), "st", table=True)),
            distinct=False)
        if request.state_in_stored_rows:
            if stored_state is None:
                raise ValueError("state_in_stored_rows needs the CTE of the last stored rows")
            rows = exp.Union(this=rows, expression=exp.select(
                quoted("entity_id"), exp.alias_(quoted(LAST_ACTIVITY_DATE), "date", quoted=True),
                exp.alias_(exp.true(), "__state", quoted=True)).from_(stored_state), distinct=False)
        condition = exp.or_(quoted("__state", "a"), condition)
    return exp.select(
        quoted("entity_id", "u"),
        exp.alias_(exp.Max(this=quoted("date", "a")), "__prior_activity", quoted=True),
    ).from_(exp.to_table("users").as_("u")).join(
        exp.alias_(exp.Subquery(this=rows), "a", table=True),
        on=exp.and_(exp.EQ(this=quoted("entity_id", "u"), expression=quoted("entity_id", "a")), exp.paren(condition)),
    ).group_by(quoted("entity_id", "u"))
