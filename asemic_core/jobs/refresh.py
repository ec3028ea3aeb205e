"""The refresh job: rebuild the whole model from the start date to the end date."""

from __future__ import annotations

import time
from dataclasses import replace

from sqlglot import exp

from asemic_core.engine import source_day_range
from asemic_core.errors import JobError
from asemic_core.jobs.writing import (
    JobResult,
    buckets_for,
    stored_estimate,
    day_stats,
    estimate_rows,
    job_executor,
    stream,
    user_bucket,
    user_days,
    users_query,
)
from asemic_core.jobs.user_state import write_state
from asemic_core.progress import NullReporter, Reporter
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
from asemic_core.sql.render import render, render_once
from asemic_core.storage import duckdb_views
from asemic_core.storage.schema import daily_columns, generate_schema
from asemic_core.storage.state import ColumnState
from asemic_core.storage.store import DAILY, USERS, ModelStore


def run_refresh(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str,
                reporter: Reporter | None = None, settings=None) -> JobResult:
    """Compute every property for every day and publish the new model (lock held by the caller)."""
    reporter = reporter or NullReporter()
    phases: dict[str, float] = {}
    started = time.monotonic()
    store.collect_garbage()
    work = store.begin(job_id)
    executor = job_executor(warehouse_path, project, store, settings, job_id, reporter)
    try:
        day_range = source_day_range(executor, project)
        if day_range is None:
            raise JobError("the event tables hold no registrations or no activity: nothing to materialize")
        first, last = day_range
        if first > last:
            raise JobError(f"start date {first} is after the end date {last}")
        columns = daily_columns(project)
        _users, estimated_rows = estimate_rows(executor, project, first, last)
        builder = ModelQueryBuilder(project)
        buckets = buckets_for(stored_estimate(estimated_rows, builder.layout(ModelRequest(columns, first, last)).sparse))
        phases["plan"] = time.monotonic() - started

        mark = time.monotonic()
        reporter.start(buckets, "Computing and writing")
        store.jobs.progress(job_id, 0.0, f"computing {estimated_rows:,} rows in {buckets} batch(es) of users")
        request = ModelRequest(properties=columns, day_from=first, day_to=last, previous_active=True)
        # Spark stages a view (computed again by every batch that reads it): nothing to share
        shared = buckets > 1 and not hasattr(executor, "deferred")
        staged = stage_inputs(executor, builder.build(request)) if shared else {}
        if staged:
            phases["stage_inputs"] = time.monotonic() - mark  # a part of compute_and_write
        statements = [render_once(read_staged(builder.build(replace(request, user_filter=user_bucket(b, buckets))),
                                              staged, user_bucket(b, buckets))) for b in range(buckets)]

        def written(index: int) -> None:
            reporter.advance()
            store.jobs.progress(job_id, (index + 1) / (buckets + 1), f"batch {index + 1} of {buckets} written")

        with executor.joins_as_written():  # the spine joined with smaller relations
            daily = work.write(DAILY, stream(executor, statements, written), replace_schema=True)
        for table in staged.values():
            executor.unstage(table)
        reporter.finish()
        phases["compute_and_write"] = time.monotonic() - mark
        work.write(USERS, executor.batches(users_query(project, last)), replace_schema=True)
        write_state(executor, project, work, last)
        counts = user_days(executor, project, first, last)
        schema = generate_schema(project)
        work.set_columns([ColumnState(DAILY, c.name, c.data_type, c.def_hash, first.isoformat(), last.isoformat(),
                                      job_id) for c in schema.table(DAILY).columns], replace_all=True)
        work.first_day, work.watermark = first.isoformat(), last.isoformat()
        stats = day_stats(counts, first, last, phases["compute_and_write"])
        phases["total"] = time.monotonic() - started
        version = store.publish(work, "refresh", day_from=first, day_to=last, rows=sum(n for _d, n, _s in stats),
                                days=stats, phases=phases)
        duckdb_views.write_views(store, project, executor)
    finally:
        executor.close()
    return JobResult(job_id, "succeeded", stats, phases, first, last, version.version)


STAGED = "__refresh_{}"  # the temporary table of a staged input


def stage_inputs(executor, query: exp.Select) -> dict[str, str]:
    """Compute once, for every user, the inputs of ``query`` (built for every user) that each
    batch would otherwise compute from the event tables for its own users: the users, each
    event table's rows per user and day, the activity, the last activity before registration
    and the days with events (every CTE before stage 0 but the spine, which the batches
    build from them). Returns CTE name -> staged table, in the order staged."""
    staged: dict[str, str] = {}
    for cte in query.args["with_"].expressions:
        if cte.alias == "stage0":
            break
        if cte.alias == "spine":
            continue
        table = STAGED.format(cte.alias)
        body = cte.this.copy()
        for name, earlier in staged.items():  # an input reads the inputs staged before it
            body = body.with_(name, as_=exp.select(exp.Star()).from_(exp.to_table(earlier)))
        executor.stage(table, [render(body)])
        staged[cte.alias] = table
    return staged


def read_staged(query: exp.Select, staged: dict[str, str], users: exp.Expression | None) -> exp.Select:
    """``query`` (one batch's) with its staged inputs read from their tables, for its ``users``."""
    for cte in query.args["with_"].expressions:
        if cte.alias in staged:
            rows = exp.select(exp.Star()).from_(exp.to_table(staged[cte.alias]))
            cte.set("this", rows.where(users.copy()) if users is not None else rows)
    return query
