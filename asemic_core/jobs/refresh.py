"""The refresh job: rebuild the whole model from the start date to the end date."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field

from asemic_core.engine import days_between, source_day_range, warehouse_connection
from asemic_core.jobs.plan import estimate_rows
from asemic_core.errors import ConfigError, JobError
from asemic_core.names import sql_string
from asemic_core.progress import NullReporter, Reporter
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
from asemic_core.sql.render import render
from asemic_core.sql.sources import quoted, registrations_relation
from asemic_core.storage.schema import daily_columns, generate_schema
from asemic_core.storage.state import ColumnState, Partition
from asemic_core.storage.store import ALL_DAYS, DAILY, USERS, ModelStore

from sqlglot import exp


@dataclass
class JobResult:
    job_id: str
    status: str
    days: list[tuple[str, int, float]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    message: str | None = None  # "up to date": why nothing ran

    @property
    def rows(self) -> int:
        return sum(rows for _day, rows, _s in self.days)


def write_batch(con, query: str, directory) -> None:
    """Write one batch of model rows as one file per day under ``directory``."""
    con.execute(f"COPY ({query}) TO {sql_string(directory)} (FORMAT PARQUET, PARTITION_BY (date), "
                "WRITE_PARTITION_COLUMNS true, COMPRESSION ZSTD)")


def place_partitions(con, store: ModelStore, job_id: str, staging, seconds: float):
    """Move the staged batch files into one directory per day; return partitions and day stats.

    A day's time is the job's compute-and-write time apportioned by its rows: the days
    of a batch are computed together, in one pass.
    """
    pattern = sql_string(f"{staging}/*/*/*.parquet")
    counts = dict(con.sql(f"SELECT date, count(*) FROM read_parquet({pattern}) GROUP BY 1").fetchall())
    total = sum(counts.values()) or 1
    partitions, stats = [], []
    for day in sorted(counts):
        name = day.isoformat()
        target = store.partition_path(DAILY, name, job_id)
        target.mkdir(parents=True, exist_ok=True)
        for batch in sorted(staging.iterdir()):
            source_dir = batch / f"date={name}"
            for index, file in enumerate(sorted(source_dir.glob("*.parquet")) if source_dir.exists() else []):
                _fsync(file)
                os.replace(file, target / f"{batch.name}-{index}.parquet")
        partitions.append(Partition(DAILY, name, store.relative(target), counts[day], job_id))
        stats.append((name, counts[day], seconds * counts[day] / total))
    return partitions, stats


def _fsync(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(con, query: str, target) -> int:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({query}) TO {sql_string(tmp)} (FORMAT PARQUET, COMPRESSION ZSTD)")
    _fsync(tmp)
    os.replace(tmp, target)
    return con.sql(f"SELECT count(*) FROM read_parquet({sql_string(target)})").fetchall()[0][0]


def run_refresh(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str,
                reporter: Reporter | None = None) -> JobResult:
    """Compute every property for every day and swap the new model in (lock held by the caller)."""
    reporter = reporter or NullReporter()
    phases: dict[str, float] = {}
    started = time.monotonic()
    store.collect_garbage()
    con = warehouse_connection(warehouse_path, store.scratch_dir, project)
    try:
        day_range = source_day_range(con, project)
        if day_range is None:
            raise JobError("the event tables hold no registrations or no activity: nothing to materialize")
        first, last = day_range
        if first > last:
            raise JobError(f"start date {first} is after the end date {last}")
        columns = daily_columns(project)
        _users, estimated_rows = estimate_rows(con, project, first, last)
        buckets = max(1, -(-estimated_rows // ROWS_PER_BUCKET))
        builder = ModelQueryBuilder(project)
        phases["plan"] = time.monotonic() - started

        mark = time.monotonic()
        reporter.start(buckets, "Computing and writing")
        store.jobs.progress(job_id, 0.0, f"computing {estimated_rows:,} rows in {buckets} batch(es) of users")
        staging = store.scratch_dir / job_id
        staging.mkdir(parents=True, exist_ok=True)
        for bucket in range(buckets):
            request = ModelRequest(properties=columns, day_from=first, day_to=last,
                                   user_filter=user_bucket(bucket, buckets))
            write_batch(con, render(builder.build(request)), staging / f"b{bucket}")
            reporter.advance()
            store.jobs.progress(job_id, (bucket + 1) / (buckets + 1), f"batch {bucket + 1} of {buckets} written")
        reporter.finish()
        phases["compute_and_write"] = time.monotonic() - mark
        written, day_stats = place_partitions(con, store, job_id, staging, phases["compute_and_write"])
        written.append(write_users(con, project, store, job_id, last))

        schema = generate_schema(project)
        column_states = [
            ColumnState(DAILY, c.name, c.data_type, c.def_hash, first.isoformat(), last.isoformat(), job_id)
            for c in schema.table(DAILY).columns
        ]
        phases["total"] = time.monotonic() - started
        catalog = catalog_writer(store, project)
        store.commit(job_id, USERS, [p for p in written if p.table == USERS], replace_all=True, after_swap=catalog)
        store.commit(job_id, DAILY, [p for p in written if p.table == DAILY], replace_all=True,
                     columns=column_states, meta={"watermark": last.isoformat(), "first_day": first.isoformat()},
                     days=day_stats, phases=phases, after_swap=catalog)
        return JobResult(job_id, "succeeded", day_stats, phases, first, last)
    finally:
        con.close()


ROWS_PER_BUCKET = 5_000_000


def write_users(con, project: ResolvedProject, store: ModelStore, job_id: str, last: dt.date) -> Partition:
    """The users table: one row per user registered by ``last``."""
    target = store.partition_path(USERS, ALL_DAYS, job_id)
    rows = _copy(con, _users_query(project, last), target / "b0.parquet")
    return Partition(USERS, ALL_DAYS, store.relative(target), rows, job_id)


def catalog_writer(store: ModelStore, project: ResolvedProject):
    """Rewrites the catalog's views over the current files (run inside each commit)."""
    from asemic_core.storage.catalog import write_catalog

    return lambda: write_catalog(store, project)


def user_bucket(bucket: int, buckets: int) -> exp.Expression | None:
    """Users whose id hashes into ``bucket``: batches that keep each user's days together."""
    if buckets == 1:
        return None
    return exp.EQ(this=exp.Mod(this=exp.func("hash", quoted("entity_id")), expression=exp.Literal.number(buckets)),
                  expression=exp.Literal.number(bucket))


def _users_query(project: ResolvedProject, last: dt.date) -> str:
    registration = project.events["entity_registrations"]
    extra = [c for c in registration.columns if c not in ("entity_id", "ts", "date")]
    query = exp.select(
        quoted("entity_id"), exp.alias_(quoted("ts"), "registration_ts", quoted=True),
        exp.alias_(quoted("date"), "registration_date", quoted=True), *[quoted(c) for c in extra],
    ).from_(exp.alias_(registrations_relation(project), "r", table=True)).where(
        exp.LTE(this=quoted("date"), expression=exp.cast(exp.Literal.string(last.isoformat()), "DATE")))
    return render(query.order_by(quoted("entity_id")))


def ensure_valid(issues) -> None:
    errors = [i for i in issues if i.is_error]
    if errors:
        raise ConfigError(f"the config has {len(errors)} error(s); fix them before running a job", errors)
