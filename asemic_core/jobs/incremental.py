"""Incremental jobs: update (new days), partial update (some columns on every day) and
rewind (a range of days and everything after it that depends on them). Each works on the
published version's tables and publishes once, at its end."""

from __future__ import annotations

import datetime as dt
import time

from sqlglot import exp

from asemic_core.engine import latest_source_day, source_day_range, warehouse_executor
from asemic_core.jobs.days import DayPlan, calendar_months, check_rewind_range, model_range, plan_rewind_days, plan_update_days, reach
from asemic_core.jobs.writing import (
    HOLD_ROWS,
    JobResult,
    buckets_for,
    day_stats,
    job_executor,
    stream,
    user_bucket,
    user_days,
)
from asemic_core.jobs.user_state import read_state, rewind_users, stored_state, write_state, write_users
from asemic_core.progress import NullReporter, Reporter
from asemic_core.semantic.base_properties import LAST_ACTIVITY_DATE
from asemic_core.semantic.hashing import definition_hashes
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.expansion import expand_at, month_start
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest, continues_from_state, overlay_columns
from asemic_core.sql.render import render, render_once
from asemic_core.sql.sources import quoted
from asemic_core.sql.sparse import NEXT_DAY, PREVIOUS_ACTIVE, date_literal, next_day_column, next_day_windows
from asemic_core.storage import duckdb_views
from asemic_core.storage.schema import daily_columns, generate_schema
from asemic_core.storage.state import ColumnState
from asemic_core.storage.status import ColumnStatus, column_statuses
from asemic_core.storage.store import DAILY, ModelStore, Work

DAY = dt.timedelta(days=1)


def _share(span: tuple[float, float], done: int, total: int) -> float:
    """``done`` of ``total`` steps as a fraction of the whole job (this step owns ``span``)."""
    low, high = span
    return low + (high - low) * done / max(total, 1)


def _users_per_day(work: Work, day: dt.date) -> int:
    counts = work.snapshot(DAILY).rows_by_day()
    return counts.get(day) or (list(counts.values())[-1] if counts else 0)


def recompute_days(executor, project: ResolvedProject, work: Work, plan: DayPlan, model_first: dt.date,
                   reporter: Reporter, span: tuple[float, float] = (0.0, 1.0), users=None,
                   state: tuple[str, dt.date] | None = None,
                   state_in_stored_rows: bool = False) -> tuple[list, dict]:
    """Compute every column on plan.first .. plan.last from the events and the stored days
    before, and replace those days of the daily table. ``users``: the users table's
    relation (else the registration tables); ``state``: the activity state (jobs/user_state.py),
    used when it ends before the first recomputed day; ``state_in_stored_rows``: it holds only
    the users without a stored row before that day (``user_state.stored_state``)."""
    columns = daily_columns(project)
    props = [project.properties[c] for c in columns]
    builder = ModelQueryBuilder(project)
    resume = plan.first if plan.first > model_first else None
    if state is not None and (resume is None or state[1] >= resume):
        state = None
    state_in_stored_rows = state_in_stored_rows and state is not None
    compute_from = stored_sql = None
    daily = work.snapshot(DAILY)
    if resume is not None:
        extent = reach(project, columns)
        compute_from = resume - dt.timedelta(days=max(extent.lookback, 1))
        for prop in props:  # fixed windows that cannot continue from a value re-read their whole range
            if prop.kind == "fixed_window_property" and not continues_from_state(prop):
                compute_from = min(compute_from, prop.definition.date_from)
        compute_from = max(compute_from, model_first)
        needed = overlay_columns(props) | {p.id for p in props if continues_from_state(p)}
        if state_in_stored_rows:
            needed.add(LAST_ACTIVITY_DATE)  # the state of the users with stored rows
        needed = sorted(needed)
        # From the first of the month before the resume day: each user has a stored row there
        # (or registered later), whose values carry to the resume day (sparse layout).
        stored = daily.between(min(compute_from, month_start(resume - DAY)), resume - DAY)
        stored_sql = render(executor.relation(stored, ["entity_id", "date", *needed]))
    history_free = dict(users_sql=render(users) if users is not None else None,
                        activity_state_sql=state[0] if state else None, activity_state_day=state[1] if state else None,
                        state_in_stored_rows=state_in_stored_rows)
    # a table written before the column existed keeps its columns until a job rewrites it whole
    previous_active = daily is None or PREVIOUS_ACTIVE in daily.columns
    next_day = stores_next_day(project, daily)
    estimate = _users_per_day(work, plan.last) * plan.days
    buckets = buckets_for(estimate)
    mark = time.monotonic()
    reporter.start(buckets, f"Computing {plan.days} day(s)")
    statements = [render_once(builder.build(ModelRequest(
        properties=columns, day_from=plan.first, day_to=plan.last, user_filter=user_bucket(b, buckets),
        compute_from=compute_from, resume_from=resume, stored_sql=stored_sql, previous_active=previous_active,
        next_day=next_day, **history_free))) for b in range(buckets)]

    def written(index: int) -> None:
        reporter.advance()
        work.store.jobs.progress(work.job_id, _share(span, index + 1, buckets + 1),
                                 f"{plan.days} day(s): batch {index + 1} of {buckets} written")

    work.store.jobs.progress(work.job_id, _share(span, 0, buckets + 1), f"computing {plan.days} day(s)")
    with executor.joins_as_written():  # the spine joined with smaller relations, as a refresh does
        daily = work.write(DAILY, stream(executor, statements, written, hold=estimate <= HOLD_ROWS),
                           replace_days=(plan.first, plan.last))
    work.clear_days(plan.first, plan.last)  # those days of the column tables are the daily table's now
    work.store.jobs.progress(work.job_id, _share(span, buckets + 1, buckets + 1), f"{plan.days} day(s) written")
    reporter.finish()
    seconds = time.monotonic() - mark
    work.written += [c.name for c in generate_schema(project).table(DAILY).columns]
    return day_stats(user_days(executor, project, plan.first, plan.last, users), plan.first, plan.last,
                     seconds), {"compute_and_write": seconds}


def stores_next_day(project: ResolvedProject, daily) -> bool:
    """Whether a job writing days into ``daily`` uses the layout with next-day values
    (sql/sparse.py ``NEXT_DAY``): the table stores the next-day value of each window that
    has one, or is written whole (None). A table written before the columns existed stores
    every change day until a refresh or a partial update writes them."""
    if daily is None:
        return True
    return all(next_day_column(name) in daily.columns for name in next_day_windows(project))


def recompute_columns(executor, project: ResolvedProject, work: Work, targets: list[str], drop: list[str],
                      reporter: Reporter, span: tuple[float, float] = (0.0, 1.0)) -> tuple[list, dict]:
    """Recompute ``targets`` (and drop ``drop``) on every materialized day; the other
    columns are copied as they are, into one new version of the daily table."""
    model_first, watermark = model_range(work)
    daily = work.snapshot(DAILY)
    mark = time.monotonic()
    builder = ModelQueryBuilder(project)
    days = (watermark - model_first).days + 1
    keys = [quoted("entity_id"), quoted("date")]
    sparse = builder.layout(ModelRequest(targets, model_first, watermark)).sparse
    # The next-day values are written with their windows; those of windows that no longer
    # have one are dropped. Every window with one is recomputed: on a day the edit adds just
    # before a stored day, its next-day value is the window's on that stored day, which the
    # derivation from the row before it does not know. (A table written without them gets
    # them all: it stores every change day, more than the layout with them needs.)
    later = next_day_windows(project)
    computed = [*targets, *[w for w in later if w not in targets and w in daily.columns]]
    written = [*computed, *[next_day_column(t) for t in computed if t in later]]
    prefix = NEXT_DAY.format("")
    stale = [c for c in daily.columns if c.startswith(prefix) and c not in written and c[len(prefix):] not in later]
    # the rows computed: the stored rows (and the days an edit adds) or, dense, every user-day
    buckets = buckets_for(daily.rows if sparse else _users_per_day(work, watermark) * days)
    reporter.start(buckets + 1, f"Recomputing {len(targets)} column(s)")
    # Sparse layout: the targets are computed on the stored days too (the change days of the
    # edited config may differ), and the kept columns are derived on the new days.
    stored_days = render(executor.relation(daily, ["entity_id", "date"])) if sparse else None
    statements = []
    for bucket in range(buckets):
        request = ModelRequest(properties=computed, day_from=model_first, day_to=watermark,
                               user_filter=user_bucket(bucket, buckets), extra_days_sql=stored_days)
        statements.append(render(exp.select(*keys, *[quoted(c) for c in written]).from_(
            exp.alias_(exp.Subquery(this=builder.build(request)), "c", table=True))))
    progress = work.store.jobs.progress
    for index, statement in enumerate(statements):  # each batch of users into one staging table
        executor.stage("__columns", [statement], append=index > 0)
        reporter.advance()
        progress(work.job_id, _share(span, index + 1, buckets + 1),
                 f"{len(targets)} column(s): batch {index + 1} of {buckets} computed")
    compute = time.monotonic() - mark
    order = [c.name for c in generate_schema(project).table(DAILY).columns]
    keep = [c for c in daily.columns if c not in written and c not in drop and c not in stale]
    final = [c for c in order if c in keep or c in written] + [c for c in keep if c not in order]
    final += [c for c in written if c not in final]
    # On the days an edit adds, the kept columns derive from the stored rows, with the stored
    # values of the recomputed columns: a kept computed property reads the inputs its stored
    # values were computed from (is_reactivated reads dau_active, which a partial update of
    # a window over it recomputes; without it, the row before's value would be carried).
    derived_from = [c for c in daily.columns if c not in drop and c not in stale]
    added = _stage_added_keys(executor, daily) if sparse else 0
    # one month at a time (a user's first row of a month is stored: the kept columns of a
    # month derive from that month's rows), so each join holds a month of rows
    statements = []
    for first, last in calendar_months(model_first, watermark):
        month = daily.between(first, last)
        kept = _kept_columns(executor, project, month, derived_from, first, last) if added else executor.relation(month, keep)
        within = exp.Between(this=quoted("date"), low=date_literal(first), high=date_literal(last))
        computed = exp.select(exp.Star()).from_("__columns").where(within)
        statements.append(render(exp.select(*[quoted(c, "n" if c in written else "o") for c in final]).from_(
            exp.alias_(exp.Subquery(this=kept), "o", table=True)).join(
            exp.alias_(exp.Subquery(this=computed), "n", table=True), join_type="LEFT",
            on=exp.and_(*[exp.EQ(this=quoted(k, "o"), expression=quoted(k, "n")) for k in ("entity_id", "date")]))))
    daily = work.write(DAILY, stream(executor, statements), replace_schema=True)
    work.merge_column_tables()  # the kept columns were read with the column tables' values
    executor.unstage("__columns")
    if sparse:
        executor.unstage("__added_keys")
    progress(work.job_id, _share(span, buckets + 1, buckets + 1), f"{len(targets)} column(s) written on every day")
    reporter.finish()
    return day_stats(user_days(executor, project, model_first, watermark), model_first, watermark,
                     time.monotonic() - mark), {
        "compute": compute, "rewrite": time.monotonic() - mark - compute}


def _stage_added_keys(executor, daily) -> int:
    """Stage ``__added_keys``: the keys of ``__columns`` (the stored days and the change days
    of the edited config) that the daily table does not store; returns how many."""
    stored_keys = exp.Subquery(this=executor.relation(daily, ["entity_id", "date"]))
    added = exp.select(quoted("entity_id", "c"), quoted("date", "c")).from_(exp.alias_(exp.to_table("__columns"), "c", table=True)).join(
        exp.alias_(stored_keys, "d", table=True), join_type="LEFT",
        on=exp.and_(exp.EQ(this=quoted("entity_id", "c"), expression=quoted("entity_id", "d")),
                    exp.EQ(this=quoted("date", "c"), expression=quoted("date", "d")))).where(
        exp.Is(this=quoted("entity_id", "d"), expression=exp.Null()))
    executor.stage("__added_keys", [render(added)])
    return executor.rows(render(exp.select(exp.Count(this=exp.Star())).from_("__added_keys")))[0][0]


def _kept_columns(executor, project: ResolvedProject, month, keep: list[str], first: dt.date,
                  last: dt.date) -> exp.Expression:
    """The kept columns on every key of ``__columns`` in ``first`` .. ``last`` (one month):
    as stored, and derived (``expand_at``) on the added days, from the month's rows of the
    users who have such days (each user has a row on the month's first day)."""
    rows = exp.Subquery(this=executor.relation(month, keep))
    keys = exp.select(quoted("entity_id"), quoted("date")).from_("__added_keys").where(
        exp.Between(this=quoted("date"), low=date_literal(first), high=date_literal(last)))
    users = exp.select(quoted("entity_id")).distinct().from_(exp.alias_(exp.Subquery(this=keys.copy()), "k", table=True))
    theirs = exp.select(exp.Star()).from_(exp.alias_(rows.copy(), "s", table=True, copy=False)).where(
        exp.In(this=quoted("entity_id"), query=exp.Subquery(this=users)))
    derived = expand_at(project, exp.Subquery(this=theirs), exp.Subquery(this=keys), keep, available=set(keep))
    return exp.union(exp.select(*[quoted(c) for c in keep]).from_(exp.alias_(rows, "s", table=True)),
                     exp.select(*[quoted(c) for c in keep]).from_(exp.alias_(exp.Subquery(this=derived), "x", table=True)),
                     distinct=False)


def _column_states(project: ResolvedProject, job_id: str, names: list[str], first: dt.date,
                   last: dt.date) -> list[ColumnState]:
    hashes = definition_hashes(project)
    schema = generate_schema(project)
    return [ColumnState(DAILY, c.name, c.data_type, hashes.get(c.name, c.def_hash), first.isoformat(), last.isoformat(),
                        job_id) for c in schema.table(DAILY).columns if c.name in names]


def _partial(executor, project, work: Work, targets, drop, reporter, span=(0.0, 1.0)):
    # imported here: only partial updates (and stale columns) read it, not every job process
    from asemic_core.jobs.partial_active import activity_targets, recompute_activity_columns

    model_first, watermark = model_range(work)
    by_event = activity_targets(executor, project, work, work.snapshot(DAILY), targets, drop)
    if by_event is not None:  # only the activity part changes (jobs/partial_active.py)
        computed = [prop.id for props in by_event.values() for prop in props]

        def progress(done: int, total: int) -> None:
            work.store.jobs.progress(work.job_id, _share(span, done, total),
                                     f"{len(computed)} column(s): month {done} of {total} written")

        stats, phases = recompute_activity_columns(executor, project, work, by_event, reporter, progress)
        targets = computed
    else:
        stats, phases = recompute_columns(executor, project, work, targets, drop, reporter, span)
    work.set_columns(_column_states(project, work.job_id, targets, model_first, watermark), drop=drop)
    return stats, phases


def _stale_first(executor, project: ResolvedProject, work: Work, status: list[ColumnStatus], reporter: Reporter,
                 later_days: int) -> tuple[list, dict, float]:
    """Recompute stale and new columns (and drop removed ones) on every materialized day,
    before a job computes ``later_days`` days of every column, in the same job. Returns the
    day stats, the phases and the share of the job's progress this first step took."""
    stale = [c.name for c in status if c.state in ("stale", "new")]
    removed = [c.name for c in status if c.state == "removed"]
    if not stale and not removed:
        return [], {}, 0.0
    model_first, watermark = model_range(work)
    size = max(len(stale), 1) * ((watermark - model_first).days + 1)
    share = min(0.9, max(0.1, size / (size + len(daily_columns(project)) * max(later_days, 1))))
    stats, phases = _partial(executor, project, work, stale, removed, reporter, (0.0, share))
    return stats, {f"columns_{k}": v for k, v in phases.items()}, share


def _merged_days(first: list, later: list) -> list:
    """Day stats of a job that wrote some days twice: the later write is what the model holds."""
    return sorted({day: (day, rows, seconds) for day, rows, seconds in [*first, *later]}.values())


def run_partial(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str, targets: list[str],
                reporter: Reporter | None = None, settings=None) -> JobResult:
    reporter = reporter or NullReporter()
    store.collect_garbage()
    work = store.begin(job_id)
    model_first, watermark = model_range(work)
    executor = job_executor(warehouse_path, project, store, settings, job_id, reporter)
    try:
        stats, phases = _partial(executor, project, work, targets, [], reporter)
        version = store.publish(work, "partial", day_from=model_first, day_to=watermark,
                                rows=sum(r for _d, r, _s in stats), days=stats, phases=phases)
        duckdb_views.write_views(store, project, executor)
    finally:
        executor.close()
    return JobResult(job_id, "succeeded", stats, phases, model_first, watermark, version.version)


def update_is_up_to_date(project: ResolvedProject, store: ModelStore, warehouse_path) -> str | None:
    """Why an update would change nothing (no day after the watermark in the sources, no
    lookback_days, no stale or removed column), or None when there is work to do."""
    settings = project.entity.model_settings if project.entity else None
    if store.watermark() is None or (settings and settings.lookback_days):
        return None
    if any(c.state != "fresh" for c in column_statuses(project, store.current())):
        return None
    _first, watermark = model_range(store)
    executor = warehouse_executor(warehouse_path, project)
    try:
        latest = latest_source_day(executor, project, watermark - DAY)  # the days from the watermark on
        if latest < watermark:  # no activity on the watermark's day (or later): the whole range says which day
            day_range = source_day_range(executor, project)
            latest = day_range[1] if day_range is not None else None
    finally:
        executor.close()
    if latest is None or latest > watermark:
        return None
    return (f"the model is up to date: materialized through {watermark}, and the sources hold no later day "
            f"(latest: {latest})")


def run_update(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str,
               reporter: Reporter | None = None, settings=None) -> JobResult:
    """New days, the lookback days, and earlier days that depend on them; stale columns first."""
    reporter = reporter or NullReporter()
    status = column_statuses(project, store.current())
    store.collect_garbage()
    work = store.begin(job_id)
    model_first, watermark = model_range(work)
    executor = job_executor(warehouse_path, project, store, settings, job_id, reporter)
    try:
        # Per-user state instead of the history (jobs/user_state.py): the sources' days after
        # the watermark, the users table and the activity state of the version it continues.
        plan = plan_update_days(project, daily_columns(project), model_first, watermark,
                                latest_source_day(executor, project, watermark))
        first_stats, phases, share = _stale_first(executor, project, work, status, reporter, plan.days)
        mark = time.monotonic()
        state = read_state(executor, work)
        users = executor.relation(write_users(executor, project, work, plan.first, plan.last))
        phases["users"] = time.monotonic() - mark
        stats, more = recompute_days(executor, project, work, plan, model_first, reporter, (share, 1.0), users, state)
        phases.update(more)
        mark = time.monotonic()
        write_state(executor, project, work, plan.last, state)
        phases["user_state"] = time.monotonic() - mark
        columns = [c.name for c in generate_schema(project).table(DAILY).columns]
        work.set_columns(_column_states(project, job_id, columns, model_first, plan.last))
        work.watermark = plan.last.isoformat()
        days = _merged_days(first_stats, stats)
        first = model_first if first_stats else plan.first
        version = store.publish(work, "update", day_from=first, day_to=plan.last,
                                rows=sum(r for _d, r, _s in days), days=days, phases=phases)
        duckdb_views.write_views(store, project, executor)
    finally:
        executor.close()
    return JobResult(job_id, "succeeded", days, phases, first, plan.last, version.version)


def run_rewind(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str, day_from: dt.date,
               day_to: dt.date, reporter: Reporter | None = None, settings=None) -> JobResult:
    """The days from ``day_from`` on that depend on the range; stale columns first, in the same job."""
    reporter = reporter or NullReporter()
    status = column_statuses(project, store.current())
    model_first, watermark = model_range(store)
    check_rewind_range(day_from, day_to, model_first, watermark)  # a refused rewind changes nothing
    store.collect_garbage()
    work = store.begin(job_id)
    plan = plan_rewind_days(project, daily_columns(project), model_first, watermark, day_from, day_to)
    executor = job_executor(warehouse_path, project, store, settings, job_id, reporter)
    try:
        first_stats, phases, share = _stale_first(executor, project, work, status, reporter, plan.days)
        # the users table first: the days are computed from it, as an update computes them
        # (rewritten only when the registrations of the changed days differ)
        users = executor.relation(rewind_users(executor, project, work, min(plan.first, day_from), watermark))
        # each user's last activity before the first recomputed day: from the stored rows
        # (the events before it are unchanged), not from the activity history
        state = stored_state(executor, project, work, plan.first, users) if plan.first > model_first else None
        stats, more = recompute_days(executor, project, work, plan, model_first, reporter, (share, 1.0), users, state,
                                     state_in_stored_rows=True)
        phases.update(more)
        write_state(executor, project, work, watermark)  # the rewound days' activity may have changed
        if first_stats:  # the stale columns now hold their current definitions on every day
            columns = [c.name for c in generate_schema(project).table(DAILY).columns]
            work.set_columns(_column_states(project, job_id, columns, model_first, watermark))
        days = _merged_days(first_stats, stats)
        first = model_first if first_stats else plan.first
        version = store.publish(work, "rewind", day_from=first, day_to=plan.last,
                                rows=sum(r for _d, r, _s in days), days=days, phases=phases)
        duckdb_views.write_views(store, project, executor)
    finally:
        executor.close()
    return JobResult(job_id, "succeeded", days, phases, first, plan.last, version.version)
