"""Compaction: the column tables of the published version folded into the daily table.

A partial update of activity columns writes those columns alone, into a column table
(jobs/partial_active.py): cheap to write, but every reader of those columns then joins
the column table to the activity part (a 90-day DAU at 1,000,000 x 365 went from 36 to
about 130 ms; docs/performance.md). Compaction writes the activity part again with every
column's current values, read through the column tables, and publishes it as a new model
version with no column table: reads are as fast as after a refresh. Nothing is recomputed
from the events, and no value changes. The scheduler compacts after its update when
column tables are left; `asemic-cli model compact` does it at once.
"""

from __future__ import annotations

import time

from asemic_core.jobs.days import calendar_months, model_range
from asemic_core.jobs.writing import JobResult, job_executor, stream
from asemic_core.progress import NullReporter, Reporter
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.render import render
from asemic_core.storage.store import DAILY, ModelStore, Work


def nothing_to_compact(store: ModelStore) -> str | None:
    """Why a compaction would change nothing, or None when the model has column tables."""
    current = store.current()
    if current is None:
        return "there is no model yet"
    snapshot = store.snapshot(DAILY, current)
    if snapshot is None or not snapshot.overrides:
        return "the model is compact: the daily table holds every column"
    return None


def fold_column_tables(executor, work: Work, reporter: Reporter, progress=None) -> int:
    """Write the daily table's activity part with the values of the column tables (one month
    at a time, one commit) and record every column as the daily table's; the rows written."""
    model_first, watermark = model_range(work)
    daily = work.snapshot(DAILY)
    active = daily.active_only()
    months = calendar_months(model_first, watermark)
    reporter.start(len(months), f"Folding {len(daily.overrides)} column table(s) into the daily table")
    statements = [render(executor.relation(active.between(first, last)), executor.dialect) for first, last in months]

    def written(index: int) -> None:
        reporter.advance()
        if progress is not None:
            progress(index + 1, len(statements))

    work.write(DAILY, stream(executor, statements, written), replace_active=True)
    work.merge_column_tables()
    reporter.finish()
    return sum(f.rows for f in work.snapshot(DAILY).files if f.active)


def run_compact(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str,
                reporter: Reporter | None = None, settings=None) -> JobResult:
    from asemic_core.storage import duckdb_views

    reporter = reporter or NullReporter()
    store.collect_garbage()
    work = store.begin(job_id)
    tables = work.column_tables()
    mark = time.monotonic()
    executor = job_executor(warehouse_path, project, store, settings, job_id, reporter)
    try:
        def progress(done: int, total: int) -> None:
            store.jobs.progress(job_id, done / max(total, 1), f"month {done} of {total} written")

        rows = fold_column_tables(executor, work, reporter, progress)
        seconds = time.monotonic() - mark
        version = store.publish(work, "compact", rows=rows, phases={"fold": seconds})
        duckdb_views.write_views(store, project, executor)
    finally:
        executor.close()
    return JobResult(job_id, "succeeded", [], {"fold": seconds, "column_tables": float(len(tables)),
                                                "rows": float(rows)}, version=version.version)
