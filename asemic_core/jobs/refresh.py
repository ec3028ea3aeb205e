"""The refresh job: rebuild the whole model from the start date to the end date."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field

from asemic_core.engine import days_between, source_day_range, warehouse_connection
from asemic_core.errors import ConfigError, JobError
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

    @property
    def rows(self) -> int:
        return sum(rows for _day, rows, _s in self.days)


def _copy(con, query: str, target) -> int:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({query}) TO '{tmp}' (FORMAT PARQUET, COMPRESSION ZSTD)")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return con.sql(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0]


def run_refresh(project: ResolvedProject, store: ModelStore, warehouse_path, job_id: str,
                reporter: Reporter | None = None) -> JobResult:
    """Compute every property for every day and swap the new model in (lock held by the caller)."""
    reporter = reporter or NullReporter()
    phases: dict[str, float] = {}
    started = time.monotonic()
    store.collect_garbage()
    con = warehouse_connection(warehouse_path, store.scratch_dir)
    try:
        day_range = source_day_range(con, project)
        if day_range is None:
            raise JobError("the event tables hold no registrations or no activity: nothing to materialize")
        first, last = day_range
        if first > last:
            raise JobError(f"start date {first} is after the end date {last}")
        columns = daily_columns(project)
        query = ModelQueryBuilder(project).build(ModelRequest(properties=columns, day_from=first, day_to=last))
        phases["plan"] = time.monotonic() - started

        mark = time.monotonic()
        con.execute(f"CREATE OR REPLACE TEMP TABLE __model AS SELECT * FROM ({render(query)}) ORDER BY date, entity_id")
        phases["compute"] = time.monotonic() - mark

        days = days_between(first, last)
        reporter.start(len(days) + 1, "Writing partitions")
        store.jobs.progress(job_id, 0.0, f"writing {len(days)} days")
        written: list[Partition] = []
        day_stats: list[tuple[str, int, float]] = []
        mark = time.monotonic()
        for index, day in enumerate(days):
            tick = time.monotonic()
            target = store.partition_path(DAILY, day.isoformat(), job_id)
            rows = _copy(con, f"SELECT * FROM __model WHERE date = DATE '{day.isoformat()}'", target)
            written.append(Partition(DAILY, day.isoformat(), store.relative(target), rows, job_id))
            day_stats.append((day.isoformat(), rows, time.monotonic() - tick))
            reporter.advance()
            if index % 10 == 0:
                store.jobs.progress(job_id, (index + 1) / (len(days) + 1), f"wrote {day.isoformat()}")
        users_query = _users_query(project, last)
        target = store.partition_path(USERS, ALL_DAYS, job_id)
        users_rows = _copy(con, users_query, target)
        written.append(Partition(USERS, ALL_DAYS, store.relative(target), users_rows, job_id))
        reporter.advance()
        phases["write"] = time.monotonic() - mark
        reporter.finish()

        schema = generate_schema(project)
        column_states = [
            ColumnState(DAILY, c.name, c.data_type, c.def_hash, first.isoformat(), last.isoformat(), job_id)
            for c in schema.table(DAILY).columns
        ]
        phases["total"] = time.monotonic() - started
        store.commit(job_id, DAILY, [p for p in written if p.table == DAILY], replace_all=True,
                     columns=column_states, meta={"watermark": last.isoformat(), "first_day": first.isoformat()},
                     days=day_stats, phases=phases)
        store.commit(job_id, USERS, [p for p in written if p.table == USERS], replace_all=True)
        return JobResult(job_id, "succeeded", day_stats, phases, first, last)
    finally:
        con.close()


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
