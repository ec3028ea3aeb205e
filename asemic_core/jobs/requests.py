"""What the Jobs page asks for and shows: a job request (kind plus arguments) that can
be planned and launched, and the job log as rows for a table or chart."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asemic_core.storage.job_log import JobRecord

ACTIVE_STATUSES = ("queued", "running")


@dataclass(frozen=True)
class JobRequest:
    """``model refresh|update|rewind`` with its arguments, as launch_job takes them."""

    kind: str  # refresh, update, rewind
    kpis: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    day_from: dt.date | None = None
    day_to: dt.date | None = None

    @property
    def args(self) -> dict:
        if self.kind == "rewind":
            return {"from": self.day_from.isoformat(), "to": self.day_to.isoformat()}
        if self.kind == "update" and (self.kpis or self.properties):
            return {"kpis": list(self.kpis), "properties": list(self.properties)}
        return {}

    @property
    def partial(self) -> bool:
        return self.kind == "update" and bool(self.kpis or self.properties)

    def describe(self) -> str:
        if self.kind == "rewind":
            return f"rewind {self.day_from} .. {self.day_to}"
        if self.partial:
            named = [f"KPI {k}" for k in self.kpis] + [f"property {p}" for p in self.properties]
            return "update of " + ", ".join(named)
        return self.kind

    def plan(self, project):
        """The JobPlan of this request (changes nothing)."""
        if self.kind == "refresh":
            return project.plan_refresh()
        if self.kind == "update":
            return project.plan_update(list(self.kpis) or None, list(self.properties) or None)
        if self.kind == "rewind":
            return project.plan_rewind(self.day_from, self.day_to)
        raise ValueError(f"unknown job kind {self.kind!r}")


@dataclass
class JobRow:
    id: str
    kind: str
    args: str
    origin: str
    status: str
    started: str
    duration_s: float | None
    progress: float
    message: str
    error: str
    created_at: float = field(repr=False, default=0.0)


def describe_args(record: JobRecord) -> str:
    args = record.args or {}
    if record.kind == "rewind" and "from" in args:
        return f"{args['from']} .. {args.get('to')}"
    named = [f"kpi {k}" for k in args.get("kpis", [])] + [f"property {p}" for p in args.get("properties", [])]
    return ", ".join(named)


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


def job_rows(records: list[JobRecord]) -> list[JobRow]:
    return [JobRow(r.id, r.kind, describe_args(r), r.origin, r.status, when(r.started_at or r.created_at),
                   round(r.duration, 2) if r.duration is not None else None, r.progress, r.message or "",
                   r.error or "", r.created_at) for r in records]


def active_job(records: list[JobRecord]) -> JobRecord | None:
    """The job that is queued or running now (the newest one if the log disagrees)."""
    return next((r for r in records if r.status in ACTIVE_STATUSES), None)


def expected_duration(records: list[JobRecord], job: JobRecord) -> float | None:
    """How long the last successful job of the same kind and scope took (None if none)."""
    scope = bool(job.args.get("kpis") or job.args.get("properties"))
    for record in records:
        if (record.id != job.id and record.kind == job.kind and record.status == "succeeded" and record.duration
                and bool(record.args.get("kpis") or record.args.get("properties")) == scope):
            return record.duration
    return None


def shown_progress(job: JobRecord, expected: float | None) -> tuple[float, bool]:
    """The fraction to draw and whether it is estimated. The job reports progress per batch
    of users (a one-batch job sits at 0 until its end), so elapsed time over the last
    comparable job's duration (capped below 1) stands in when it is further along."""
    if not expected or job.duration is None:
        return job.progress, False
    estimate = max(0.0, min(job.duration / expected, 0.95))
    return (estimate, True) if estimate > job.progress else (job.progress, False)


def job_progress(job: JobRecord, history: list[JobRecord]) -> tuple[float, bool]:
    """The one progress measure every page shows: 1 once succeeded, the log's fraction once
    ended otherwise, and while active the larger of the log's fraction and the time estimate
    (both only grow, so the measure never goes back)."""
    if job.status == "succeeded":
        return 1.0, False
    if job.status not in ACTIVE_STATUSES:
        return job.progress, False
    if job.status == "queued":
        return 0.0, False
    return shown_progress(job, expected_duration(history, job))


def _column_owner(name: str, project):
    """The property a model column stands for (an inline source column: the property that
    holds it), or None."""
    prop = project.get_property(name)
    if prop is None:
        return None
    if prop.hidden and prop.parent:
        prop = project.get_property(prop.parent) or prop
    return None if prop.hidden else prop


def stale_properties(status, project) -> list[str]:
    """Stale or new columns of the model as the properties to name in a partial update
    (an inline source column stands for the property that holds it)."""
    out: list[str] = []
    for name in status.stale:
        prop = _column_owner(name, project)
        if prop is not None and prop.id not in out:
            out.append(prop.id)
    return out


def property_column_state(status, project, prop_id: str) -> str | None:
    """How the model holds a saved property: "new" when a column of it was never
    materialized, "stale" when one holds values of an older definition, None when the model
    matches it (or nothing is materialized yet: a refresh comes first)."""
    if not status.watermark:
        return None
    states = {c.state for c in status.columns
              if c.state in ("new", "stale") and (owner := _column_owner(c.name, project)) is not None
              and owner.id == prop_id}
    return "new" if "new" in states else "stale" if states else None
