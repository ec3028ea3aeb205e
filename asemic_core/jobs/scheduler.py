"""The scheduler: runs `update` every `incremental_update_frequency`, then folds the
column tables partial updates left into the daily table (`compact`).

A run is due when the last successful refresh or update finished at least one period
ago. A failed run is logged like any job and retried at the next tick; it never stops
the scheduler. `tick()` is what `asemic-cli scheduler --once` (cron) calls.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from dataclasses import dataclass

from asemic_core.errors import AsemicError
from asemic_core.storage.state import now

RETRY_SECONDS = 300  # after a failure, the next attempt comes at the latest this soon


@dataclass
class TickOutcome:
    status: str  # "ran", "up to date", "failed", "not due", "busy"
    message: str
    job_id: str | None = None
    next_run: float | None = None

    def describe(self) -> str:
        when = dt.datetime.fromtimestamp(self.next_run).strftime("%Y-%m-%d %H:%M:%S") if self.next_run else "-"
        job = f" ({self.job_id})" if self.job_id else ""
        return f"{self.status}{job}: {self.message}; next run {when}"


class Scheduler:
    def __init__(self, project, reporter=None, clock=now) -> None:
        self.project = project
        self.reporter = reporter
        self.clock = clock
        self._stop = False

    def _period(self) -> float:
        files = self.project.files()
        if files.entity is None:
            return 86400.0
        return files.entity.model.model_settings.update_frequency.total_seconds()

    def next_run(self) -> float:
        """When the next update is due (now if never run)."""
        jobs = self.project.model_store().jobs.list(200)
        done = [j.finished_at for j in jobs if j.status == "succeeded" and j.kind in ("refresh", "update")
                and not j.args.get("kpis") and not j.args.get("properties") and j.finished_at]
        if not done:
            return self.clock()
        return max(done) + self._period()

    def _record(self, outcome: TickOutcome) -> None:
        store = self.project.model_store()
        with store.state.transaction() as con:
            store.state.set_meta(con, "scheduler", {"last_tick": self.clock(), "status": outcome.status,
                                                     "message": outcome.message, "job_id": outcome.job_id,
                                                     "next_run": outcome.next_run, "pid": os.getpid()})

    def tick(self) -> TickOutcome:
        store = self.project.model_store()
        holder = store.lock.holder()
        if holder:
            outcome = TickOutcome("busy", f"job {holder} is running", next_run=self.clock() + 60)
            self._record(outcome)
            return outcome
        due = self.next_run()
        if due > self.clock():
            outcome = TickOutcome("not due", "the model is fresh", next_run=due)
            self._record(outcome)
            return outcome
        has_model = store.watermark() is not None
        try:
            result = (self.project.update(origin="scheduler", reporter=self.reporter) if has_model
                      else self.project.refresh(origin="scheduler", reporter=self.reporter))
        except AsemicError as err:
            outcome = TickOutcome("failed", err.message, next_run=self.clock() + min(RETRY_SECONDS, self._period()))
        except Exception as err:  # noqa: BLE001 - a scheduler keeps going; the job log has the details
            outcome = TickOutcome("failed", f"{type(err).__name__}: {err}",
                                  next_run=self.clock() + min(RETRY_SECONDS, self._period()))
        else:
            if result.status == "up to date":
                outcome = TickOutcome("up to date", result.message or "nothing to do",
                                      next_run=self.clock() + min(RETRY_SECONDS, self._period()))
            else:
                outcome = TickOutcome("ran", f"{result.rows:,} rows over {len(result.days)} day(s)", result.job_id,
                                      next_run=self.clock() + self._period())
        if outcome.status == "failed":
            jobs = store.jobs.list(1)
            outcome.job_id = jobs[0].id if jobs else None
        else:
            self._compact(outcome)
        self._record(outcome)
        return outcome

    def _compact(self, outcome: TickOutcome) -> None:
        """After its update, fold the column tables partial updates left (jobs/compact.py):
        reads of their columns are fast again. A failure is logged and reported, and the
        update's outcome stands."""
        from asemic_core.jobs.compact import nothing_to_compact

        if nothing_to_compact(self.project.model_store(readonly=True)) is not None:
            return
        try:
            result = self.project.compact(origin="scheduler", reporter=self.reporter)
        except Exception as err:  # noqa: BLE001 - the job log has the details
            message = err.message if isinstance(err, AsemicError) else f"{type(err).__name__}: {err}"
            outcome.message += f"; compaction failed: {message}"
        else:
            outcome.message += f"; column tables folded into the daily table (job {result.job_id})"

    def stop(self, *_args) -> None:
        self._stop = True

    def run_forever(self, poll_seconds: float = 30.0) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        while not self._stop:
            outcome = self.tick()
            print(outcome.describe(), flush=True)
            wait = max(1.0, min(poll_seconds, (outcome.next_run or self.clock() + poll_seconds) - self.clock()))
            deadline = time.monotonic() + wait
            while not self._stop and time.monotonic() < deadline:
                time.sleep(min(1.0, deadline - time.monotonic()))


def scheduler_status(project) -> dict | None:
    return project.model_store().state.meta("scheduler")
