"""Incremental jobs: update (new days), partial update (some columns on every day) and
rewind (a range of days and everything after it that depends on them)."""

from __future__ import annotations

import datetime as dt
import time

from sqlglot import exp

from asemic_core.engine import source_day_range, warehouse_connection
from asemic_core.errors import JobError
from asemic_core.jobs.planner import DayPlan, plan_rewind_days, plan_update_days, reach
from asemic_core.jobs.refresh import (
    ROWS_PER_BUCKET,
    JobResult,
    catalog_writer,
    place_partitions,
    user_bucket,
    write_batch,
    write_users,
)
from asemic_core.names import quote_names, sql_string, sql_string_list
from asemic_core.progress import NullReporter, Reporter
from asemic_core.semantic.hashing import definition_hashes
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest, continues_from_state, overlay_columns
from asemic_core.sql.render import render
from asemic_core.storage.schema import daily_columns, generate_schema
from asemic_core.storage.state import ColumnState, Partition
from asemic_core.storage.status import model_status
from asemic_core.storage.store import DAILY, USERS, ModelStore


_listed = sql_string_list  # paths as SQL string literals


def _model_range(store: ModelStore) -> tuple[dt.date, dt.date]:
    parts, _ = store.snapshot(DAILY)
    if not parts:
        raise JobError("the model has not been materialized yet: run a refresh first")
    return dt.date.fromisoformat(parts[0].day), dt.date.fromisoformat(parts[-1].day)


def _share(span: tuple[float, float], done: int, total: int) -> float:
    """``done`` of ``total`` steps as a fraction of the whole job (this step owns ``span``)."""
    low, high = span
    return low + (high - low) * done / max(total, 1)


def recompute_days(con, project: ResolvedProject, store: ModelStore, job_id: str, plan: DayPlan,
                   model_first: dt.date, reporter: Reporter,
                   span: tuple[float, float] = (0.0, 1.0)) -> tuple[list[Partition], list, dict]:
    """Compute every column on plan.first .. plan.last from the events and the stored days before."""
    columns = daily_columns(project)
    props = [project.properties[c] for c in columns]
    builder = ModelQueryBuilder(project)
    resume = plan.first if plan.first > model_first else None
    compute_from = stored_sql = None
    if resume is not None:
        extent = reach(project, columns)
        compute_from = resume - dt.timedelta(days=max(extent.lookback, 1))
        for prop in props:  # fixed windows that cannot continue from a value re-read their whole range
            if prop.kind == "fixed_window_property" and not continues_from_state(prop):
                compute_from = min(compute_from, prop.definition.date_from)
        compute_from = max(compute_from, model_first)
        needed = sorted(overlay_columns(props) | {p.id for p in props if continues_from_state(p)})
        files = store.files(DAILY, compute_from.isoformat(), (resume - dt.timedelta(days=1)).isoformat())
        select = quote_names(["entity_id", "date", *needed])
        stored_sql = f"SELECT {select} FROM read_parquet({_listed(files)}, union_by_name = true)"
    users = con.sql("SELECT count(*) FROM read_parquet(" + _listed(store.files(DAILY, plan.last.isoformat(),
                    plan.last.isoformat()) or store.files(DAILY)[-1:]) + ")").fetchall()[0][0]
    buckets = max(1, -(-(users * plan.days) // ROWS_PER_BUCKET))
    staging = store.scratch_dir / job_id
    staging.mkdir(parents=True, exist_ok=True)
    mark = time.monotonic()
    reporter.start(buckets, f"Computing {plan.days} day(s)")
    for bucket in range(buckets):
        request = ModelRequest(properties=columns, day_from=plan.first, day_to=plan.last,
                               user_filter=user_bucket(bucket, buckets), compute_from=compute_from,
                               resume_from=resume, stored_sql=stored_sql)
        write_batch(con, render(builder.build(request)), staging / f"b{bucket}")
        reporter.advance()
        store.jobs.progress(job_id, _share(span, bucket + 1, buckets + 1),
                            f"{plan.days} day(s): batch {bucket + 1} of {buckets} written")
    reporter.finish()
    seconds = time.monotonic() - mark
    partitions, stats = place_partitions(con, store, job_id, staging, seconds)
    return partitions, stats, {"compute_and_write": seconds}


def recompute_columns(con, project: ResolvedProject, store: ModelStore, job_id: str, targets: list[str],
                      drop: list[str], reporter: Reporter,
                      span: tuple[float, float] = (0.0, 1.0)) -> tuple[list[Partition], list, dict]:
    """Recompute ``targets`` (and drop ``drop``) on every materialized day; other columns are copied as they are."""
    model_first, watermark = _model_range(store)
    parts, _ = store.snapshot(DAILY)
    mark = time.monotonic()
    builder = ModelQueryBuilder(project)
    users = con.sql("SELECT count(*) FROM read_parquet(" + _listed(store.files(DAILY, watermark.isoformat(),
                    watermark.isoformat())) + ")").fetchall()[0][0]
    days = (watermark - model_first).days + 1
    buckets = max(1, -(-(users * days) // ROWS_PER_BUCKET))
    reporter.start(buckets + len(parts), f"Recomputing {len(targets)} column(s)")
    target_list = quote_names(targets)
    for bucket in range(buckets):
        request = ModelRequest(properties=targets, day_from=model_first, day_to=watermark,
                               user_filter=user_bucket(bucket, buckets))
        select = f"SELECT entity_id, date, {target_list} FROM ({render(builder.build(request))})"
        if bucket == 0:
            con.execute(f"CREATE OR REPLACE TEMP TABLE __columns AS {select}")
        else:
            con.execute(f"INSERT INTO __columns {select}")
        reporter.advance()
        store.jobs.progress(job_id, _share(span, bucket + 1, buckets + len(parts)),
                            f"{len(targets)} column(s): batch {bucket + 1} of {buckets} computed")
    con.execute("CREATE OR REPLACE TEMP TABLE __columns_by_day AS SELECT * FROM __columns ORDER BY date, entity_id")
    con.execute("DROP TABLE __columns")
    compute = time.monotonic() - mark
    schema = generate_schema(project)
    order = [c.name for c in schema.table(DAILY).columns]
    written, stats = [], []
    for index, part in enumerate(parts):
        tick = time.monotonic()
        old_files = _listed([str(store.root / part.path / "*.parquet")])
        old_columns = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM read_parquet({old_files}, union_by_name = true)").fetchall()]
        keep = [c for c in old_columns if c not in targets and c not in drop]
        final = [c for c in order if c in keep or c in targets] + [c for c in keep if c not in order]
        projection = ", ".join(quote_names([c], "n" if c in targets else "o") for c in final)
        query = (f"SELECT {projection} FROM read_parquet({old_files}, union_by_name = true) AS o "
                 f"LEFT JOIN (SELECT * FROM __columns_by_day WHERE date = CAST({sql_string(part.day)} AS DATE)) AS n "
                 f"ON o.entity_id = n.entity_id AND o.date = n.date ORDER BY o.entity_id")
        # Its own directory name: the same job may write the day again after this pass.
        target = store.partition_path(DAILY, part.day, f"{job_id}-columns")
        target.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({query}) TO {sql_string(target / 'b0.parquet')} (FORMAT PARQUET, COMPRESSION ZSTD)")
        written.append(Partition(DAILY, part.day, store.relative(target), part.rows, job_id))
        stats.append((part.day, part.rows, time.monotonic() - tick + compute / max(len(parts), 1)))
        reporter.advance()
        if index % 10 == 0 or index == len(parts) - 1:
            store.jobs.progress(job_id, _share(span, buckets + index + 1, buckets + len(parts)),
                                f"{len(targets)} column(s): rewrote {part.day}")
    reporter.finish()
    con.execute("DROP TABLE __columns_by_day")
    return written, stats, {"columns_compute": compute, "columns_rewrite": time.monotonic() - mark - compute}


def _column_states(project: ResolvedProject, store: ModelStore, job_id: str, names: list[str],
                   first: dt.date, last: dt.date) -> list[ColumnState]:
    hashes = definition_hashes(project)
    schema = generate_schema(project)
    return [ColumnState(DAILY, c.name, c.data_type, hashes.get(c.name, c.def_hash), first.isoformat(), last.isoformat(), job_id)
            for c in schema.table(DAILY).columns if c.name in names]


def run_partial(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str, targets: list[str],
                reporter: Reporter | None = None, drop: list[str] | None = None,
                span: tuple[float, float] = (0.0, 1.0)) -> JobResult:
    reporter = reporter or NullReporter()
    model_first, watermark = _model_range(store)
    store.collect_garbage()
    con = warehouse_connection(warehouse_path, store.scratch_dir, project)
    try:
        written, stats, phases = recompute_columns(con, project, store, job_id, targets, drop or [], reporter, span)
    finally:
        con.close()
    with store.state.transaction() as tx:
        for name in drop or []:
            tx.execute("DELETE FROM columns WHERE tbl = ? AND name = ?", (DAILY, name))
    store.commit(job_id, DAILY, written, replace_all=False,
                 columns=_column_states(project, store, job_id, targets, model_first, watermark),
                 days=stats, phases=phases, after_swap=catalog_writer(store, project))
    return JobResult(job_id, "succeeded", stats, phases, model_first, watermark)


def _stale_first(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str, reporter: Reporter,
                 later_days: int) -> tuple[list, dict, float]:
    """Recompute stale and new columns (and drop removed ones) on every materialized day,
    before a job computes ``later_days`` days of every column. Returns the day stats, the
    phases and the share of the job's progress this first step took."""
    status = model_status(project, store)
    stale = [c.name for c in status.columns if c.state in ("stale", "new")]
    removed = [c.name for c in status.columns if c.state == "removed"]
    if not stale and not removed:
        return [], {}, 0.0
    model_first, watermark = _model_range(store)
    work = max(len(stale), 1) * ((watermark - model_first).days + 1)
    share = min(0.9, max(0.1, work / (work + len(daily_columns(project)) * max(later_days, 1))))
    result = run_partial(project, store, warehouse_path, job_id, stale, reporter, drop=removed, span=(0.0, share))
    return result.days, result.phases, share


def _merged_days(first: list, later: list) -> list:
    """Day stats of a job that wrote some days twice: the later write is what the model holds."""
    return sorted({day: (day, rows, seconds) for day, rows, seconds in [*first, *later]}.values())


def update_is_up_to_date(project: ResolvedProject, store: ModelStore, warehouse_path) -> str | None:
    """Why an update would change nothing (no day after the watermark in the sources, no
    lookback_days, no stale or removed column), or None when there is work to do."""
    settings = project.entity.model_settings if project.entity else None
    if store.watermark() is None or (settings and settings.lookback_days):
        return None
    if any(c.state != "fresh" for c in model_status(project, store).columns):
        return None
    _first, watermark = _model_range(store)
    con = warehouse_connection(warehouse_path, project=project)
    try:
        day_range = source_day_range(con, project)
    finally:
        con.close()
    if day_range is None or day_range[1] > watermark:
        return None
    return (f"the model is up to date: materialized through {watermark}, and the sources hold no later day "
            f"(latest: {day_range[1]})")


def run_update(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str,
               reporter: Reporter | None = None) -> JobResult:
    """New days, the lookback days, and earlier days that depend on them; stale columns first."""
    reporter = reporter or NullReporter()
    model_first, watermark = _model_range(store)
    con = warehouse_connection(warehouse_path, store.scratch_dir, project)
    try:
        day_range = source_day_range(con, project)
    finally:
        con.close()
    if day_range is None:
        raise JobError("the event tables hold no registrations or no activity")
    plan = plan_update_days(project, daily_columns(project), model_first, watermark, day_range[1])
    first_stats, phases, share = _stale_first(project, store, warehouse_path, job_id, reporter, plan.days)
    store.collect_garbage()
    con = warehouse_connection(warehouse_path, store.scratch_dir, project)
    try:
        written, stats, more = recompute_days(con, project, store, job_id, plan, model_first, reporter, (share, 1.0))
        phases.update(more)
        users = write_users(con, project, store, job_id, plan.last)
    finally:
        con.close()
    columns = [c.name for c in generate_schema(project).table(DAILY).columns]
    catalog = catalog_writer(store, project)
    store.commit(job_id, DAILY, written, replace_all=False,
                 columns=_column_states(project, store, job_id, columns, model_first, plan.last),
                 meta={"watermark": plan.last.isoformat()}, days=stats, phases=more, after_swap=catalog)
    store.commit(job_id, USERS, [users], replace_all=True, after_swap=catalog)
    return JobResult(job_id, "succeeded", _merged_days(first_stats, stats), phases,
                     model_first if first_stats else plan.first, plan.last)


def run_rewind(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str, day_from: dt.date,
               day_to: dt.date, reporter: Reporter | None = None) -> JobResult:
    """The days from ``day_from`` on that depend on the range; stale columns first, in the same job."""
    reporter = reporter or NullReporter()
    model_first, watermark = _model_range(store)
    check_rewind_range(day_from, day_to, model_first, watermark)
    plan = plan_rewind_days(project, daily_columns(project), model_first, watermark, day_from, day_to)
    first_stats, phases, share = _stale_first(project, store, warehouse_path, job_id, reporter, plan.days)
    store.collect_garbage()
    con = warehouse_connection(warehouse_path, store.scratch_dir, project)
    try:
        written, stats, more = recompute_days(con, project, store, job_id, plan, model_first, reporter, (share, 1.0))
        phases.update(more)
        users = write_users(con, project, store, job_id, watermark)
    finally:
        con.close()
    catalog = catalog_writer(store, project)
    store.commit(job_id, DAILY, written, replace_all=False, days=stats, phases=more, after_swap=catalog)
    store.commit(job_id, USERS, [users], replace_all=True, after_swap=catalog)
    return JobResult(job_id, "succeeded", _merged_days(first_stats, stats), phases,
                     model_first if first_stats else plan.first, plan.last)


def check_rewind_range(day_from: dt.date, day_to: dt.date, model_first: dt.date, watermark: dt.date) -> None:
    if day_from > day_to:
        raise JobError(f"--from {day_from} is after --to {day_to}")
    if day_to < model_first or day_from > watermark:
        raise JobError(f"{day_from} .. {day_to} is outside the materialized days {model_first} .. {watermark}")
