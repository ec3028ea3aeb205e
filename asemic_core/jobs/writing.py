"""What every job shares: batches of users, the users table's query, Arrow streams of
model rows, per-day statistics and the job's result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa
from sqlglot import exp

from asemic_core.errors import ConfigError
from asemic_core.semantic.model import REGISTRATIONS, ResolvedProject
from asemic_core.sql.render import render
from asemic_core.sql.sources import quoted, registrations_relation

ROWS_PER_BUCKET = 5_000_000
# A job of one statement estimated at most this many rows (the stored rows of its last day
# times its days: the benchmark's 7-day rewind is 144k at 100,000 x 180 and 721k at
# 1,000,000 x 365) computes them whole before writing them (see stream)
HOLD_ROWS = 1_000_000


@dataclass
class JobResult:
    job_id: str
    status: str
    days: list[tuple[str, int, float]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    version: int | None = None  # the model version the job published
    message: str | None = None  # "up to date": why nothing ran

    @property
    def rows(self) -> int:
        return sum(rows for _day, rows, _s in self.days)


def user_bucket(bucket: int, buckets: int) -> exp.Expression | None:
    """Users whose id hashes into ``bucket``: batches that keep each user's days together."""
    if buckets == 1:
        return None
    return exp.EQ(this=exp.Mod(this=exp.func("hash", quoted("entity_id")), expression=exp.Literal.number(buckets)),
                  expression=exp.Literal.number(bucket))


# stored rows per user-day in the sparse layout (the demo stores 0.31 at 100k x 180 and 0.21 at
# 1M x 365, so its batches hold fewer rows than ROWS_PER_BUCKET)
SPARSE_SHARE = 0.4


def buckets_for(rows: int) -> int:
    """Batches of users for ``rows`` rows to compute: each batch reads the event tables once,
    so batches are as large as memory allows (ROWS_PER_BUCKET rows)."""
    return max(1, -(-rows // ROWS_PER_BUCKET))


def stored_estimate(user_days: int, sparse: bool) -> int:
    """The rows a job stores for ``user_days`` days of users (the sparse layout stores a share)."""
    return int(user_days * SPARSE_SHARE) if sparse else user_days


def stream(executor, statements: list[str], after_each=None, hold: bool = False):
    """One Arrow stream of the rows of ``statements`` run one after the other (a table
    version is written from it in one commit, with memory bounded by a batch). An engine
    that writes on its own side (Spark) gets the statements instead.

    With several statements, each next one is computed (in a thread: DuckDB works without
    the interpreter lock) while the rows of the one before are written: the write encodes
    on one core, the query uses every core, so one batch's write overlaps the next batch's
    query. At most two batches are held: the one being written and the one computed.

    One statement is streamed to the writer as DuckDB produces its rows (its last step then
    runs on one core, taking turns with the writer), or with ``hold`` (few rows) computed
    whole first, on every core: a 7-day rewind at 100,000 x 180 (140k rows) 40 ms sooner."""
    if hasattr(executor, "deferred"):
        return executor.deferred(statements, after_each)
    first = executor.batches(statements[0])
    if len(statements) == 1 and not hold:
        def single():
            yield from first
            if after_each is not None:
                after_each(0)

        return pa.RecordBatchReader.from_batches(first.schema, single())

    def batches():
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="asemic-batch") as pool:
            pending = pool.submit(first.read_all)
            for index in range(len(statements)):
                table = pending.result()
                if index + 1 < len(statements):
                    pending = pool.submit(lambda statement: executor.batches(statement).read_all(),
                                          statements[index + 1])
                yield from table.to_batches()
                del table
                if after_each is not None:
                    after_each(index)

    return pa.RecordBatchReader.from_batches(first.schema, batches())


def users_query(project: ResolvedProject, last: dt.date) -> str:
    """The users table: one row per user registered by ``last``."""
    registration = project.events[REGISTRATIONS]
    extra = [c for c in registration.columns if c not in ("entity_id", "ts", "date")]
    query = exp.select(
        quoted("entity_id"), exp.alias_(quoted("ts"), "registration_ts", quoted=True),
        exp.alias_(quoted("date"), "registration_date", quoted=True), *[quoted(c) for c in extra],
    ).from_(exp.alias_(registrations_relation(project), "r", table=True)).where(
        exp.LTE(this=quoted("date"), expression=exp.cast(exp.Literal.string(last.isoformat()), "DATE")))
    return render(query.order_by(quoted("entity_id")))


def estimate_rows(executor, project: ResolvedProject, first: dt.date, last: dt.date) -> tuple[int, int]:
    """(users registered by ``last``, rows of the daily table over first .. last)."""
    last_lit = exp.cast(exp.Literal.string(last.isoformat()), "DATE")
    first_lit = exp.cast(exp.Literal.string(first.isoformat()), "DATE")
    days = exp.Add(this=exp.DateDiff(this=last_lit, expression=exp.func("GREATEST", quoted("date"), first_lit),
                                     unit=exp.var("DAY")), expression=exp.Literal.number(1))
    query = exp.select(exp.Count(this=exp.Star()), exp.func("COALESCE", exp.Sum(this=days), exp.Literal.number(0))).from_(
        exp.alias_(registrations_relation(project), "r", table=True)).where(exp.LTE(this=quoted("date"), expression=last_lit))
    users, rows = executor.rows(render(query))[0]
    return int(users), int(rows)


def user_days(executor, project: ResolvedProject, first: dt.date, last: dt.date,
              users: exp.Expression | None = None) -> dict[dt.date, int]:
    """The rows of the logical model on each day first .. last: the users registered by then
    (the stored rows are fewer in the sparse layout); ``users``: read from a users table."""
    if users is not None:
        source = exp.select(exp.alias_(quoted("registration_date"), "date", quoted=True)).from_(
            exp.alias_(exp.Subquery(this=users), "u", table=True))
        source = exp.Subquery(this=source)
    else:
        source = registrations_relation(project)
    query = exp.select(quoted("date"), exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True)).from_(
        exp.alias_(source, "r", table=True)).where(
        exp.LTE(this=quoted("date"), expression=exp.cast(exp.Literal.string(last.isoformat()), "DATE"))).group_by(quoted("date"))
    registered = sorted((row[0], row[1]) for row in executor.rows(render(query)))
    counts, total, index = {}, 0, 0
    day = first
    while day <= last:
        while index < len(registered) and registered[index][0] <= day:
            total += registered[index][1]
            index += 1
        if total:
            counts[day] = total
        day += dt.timedelta(days=1)
    return counts


def day_stats(counts: dict[dt.date, int], first: dt.date, last: dt.date, seconds: float) -> list[tuple[str, int, float]]:
    """(day, user-days, seconds) of the days first .. last (``counts``: ``user_days``); a day's
    time is the job's time apportioned by its rows (the days are computed together)."""
    counts = {d: n for d, n in counts.items() if first <= d <= last}
    total = sum(counts.values()) or 1
    return [(d.isoformat(), n, seconds * n / total) for d, n in counts.items()]


def job_executor(warehouse_path, project: ResolvedProject, store, settings=None, job_id: str | None = None,
                 reporter=None):
    """The job's executor: Spark when the config says so (its running stages' tasks reported
    to the job log and the reporter), else DuckDB spilling into the model directory unless
    the config says otherwise."""
    from asemic_core.backend.settings import EngineSettings
    from asemic_core.engine import spark_executor, warehouse_executor

    settings = (settings or EngineSettings()).with_temp_directory(store.scratch_dir)
    if settings.spark is not None:
        executor = spark_executor(warehouse_path, settings)
        executor.on_tasks = spark_progress(store, job_id, reporter)
        return executor
    settings.spill_directory().mkdir(parents=True, exist_ok=True)
    return warehouse_executor(warehouse_path, project, settings)


def spark_progress(store, job_id: str | None, reporter):
    """What Spark's status tracker reports while a job writes: the running stages' completed
    and total tasks, to the job log (the studio's Jobs page) and to the reporter (a bar per stage set)."""
    seen = {"total": None, "done": 0, "label": None}

    def on_tasks(done: int, total: int, stages: str) -> None:
        if job_id is not None:
            store.jobs.progress(job_id, 0.9 * done / max(total, 1), f"Spark {stages}: {done} of {total} tasks")
        if reporter is None:
            return
        if (total, stages) != (seen["total"], seen["label"]):
            reporter.start(total, f"Spark {stages}")
            seen.update(total=total, done=0, label=stages)
        if done > seen["done"]:
            reporter.advance(done - seen["done"])
            seen["done"] = done

    return on_tasks


def ensure_valid(issues) -> None:
    errors = [i for i in issues if i.is_error]
    if errors:
        raise ConfigError(f"the config has {len(errors)} error(s); fix them before running a job", errors)
