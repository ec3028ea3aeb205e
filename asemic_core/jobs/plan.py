"""Job plans: what a job would write and why, as a value (printing it changes nothing)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asemic_core.engine import source_day_range, warehouse_executor
from asemic_core.errors import JobError
from asemic_core.jobs.days import check_rewind_range, columns_for, model_range, plan_rewind_days, plan_update_days
from asemic_core.jobs.user_state import state_day
from asemic_core.jobs.writing import estimate_rows, stored_estimate
from asemic_core.semantic.model import ResolvedProject
from asemic_core.storage.schema import daily_columns, generate_schema
from asemic_core.storage.status import model_status
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
from asemic_core.sql.model_users import STATE_COLUMN
from asemic_core.storage.store import DAILY, USER_STATE, USERS


@dataclass
class PlannedTable:
    name: str
    days: list[str]
    columns: list[str]
    estimated_rows: int
    reason: str


@dataclass
class JobPlan:
    kind: str
    first_day: dt.date
    last_day: dt.date
    tables: list[PlannedTable] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    up_to_date: bool = False  # an update with nothing to do: no day, no table


    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "first_day": self.first_day, "last_day": self.last_day, "reasons": self.reasons,
            "up_to_date": self.up_to_date,
            "tables": [t.__dict__ for t in self.tables],
        }

    def describe(self) -> str:
        if self.up_to_date:
            return f"{self.kind}: nothing to do: {'; '.join(self.reasons)}"
        days = (self.last_day - self.first_day).days + 1
        lines = [f"{self.kind}: {days} day(s) from {self.first_day} to {self.last_day}"]
        lines += [f"  why: {reason}" for reason in self.reasons]
        for table in self.tables:
            lines.append(f"  table {table.name}: {len(table.days)} partition(s), {len(table.columns)} column(s), "
                         f"~{table.estimated_rows:,} rows ({table.reason})")
            lines.append("    columns: " + ", ".join(table.columns))
        return "\n".join(lines)


def plan_refresh(project: ResolvedProject, warehouse_path) -> JobPlan:
    executor = warehouse_executor(warehouse_path, project)
    try:
        day_range = source_day_range(executor, project)
        if day_range is None:
            raise JobError("the event tables hold no registrations or no activity: nothing to materialize")
        first, last = day_range
        users, rows = estimate_rows(executor, project, first, last)
    finally:
        executor.close()
    schema = generate_schema(project)
    days = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    plan = JobPlan("refresh", first, last, reasons=[
        "refresh rebuilds every materialized day and every column",
        f"days: from {'model_settings.start_date' if project.start_date else 'the earliest registration'} ({first}) "
        f"to the latest activity day{' capped by model_settings.end_date' if project.entity and project.entity.model_settings.end_date else ''} ({last})",
    ])
    columns = [c.name for c in schema.table(DAILY).columns]
    sparse = ModelQueryBuilder(project).layout(ModelRequest(daily_columns(project), first, last)).sparse
    plan.tables.append(PlannedTable(DAILY, days, columns, stored_estimate(rows, sparse),
                                    f"each user's change days of {rows:,} user-days: registration, events, "
                                    "window edges, month starts" if sparse else
                                    "one row per registered user and day"))
    plan.tables.append(PlannedTable(USERS, ["all"], [c.name for c in schema.table(USERS).columns], users,
                                    "one row per registered user"))
    plan.tables.append(_state_table(project, last, users))
    return plan


def _state_table(project: ResolvedProject, watermark: dt.date, users: int) -> PlannedTable:
    return PlannedTable(USER_STATE, ["all"], ["entity_id", STATE_COLUMN], users,
                        f"each user's last activity day as of {state_day(project, watermark)}: the next update "
                        "reads it instead of the activity history")


def _days(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def user_terms(project: ResolvedProject, columns: list[str]) -> list[str]:
    """Columns as the user knows them: a hidden inline-source column is its property."""
    out: list[str] = []
    for name in columns:
        prop = project.properties.get(name)
        while prop is not None and prop.hidden and prop.parent and prop.parent in project.properties:
            prop = project.properties[prop.parent]
        shown = prop.id if prop is not None else name
        if shown not in out:
            out.append(shown)
    return out


def stale_step(project: ResolvedProject, store, all_days: list[str], per_day: int) -> tuple[str | None, PlannedTable | None]:
    """The first step of an update or rewind when the config changed since the model was
    written: the changed and new properties recomputed (removed ones dropped) on every day."""
    status = model_status(project, store)
    stale = [c.name for c in status.columns if c.state in ("stale", "new")]
    removed = [c.name for c in status.columns if c.state == "removed"]
    if not stale and not removed:
        return None, None
    named = user_terms(project, stale)
    changed = set(user_terms(project, [c.name for c in status.columns if c.state == "stale"]))
    parts = []
    if named:
        words = [f"{p} ({'changed' if p in changed else 'new'})" for p in named]
        parts.append(f"recompute the propert{'y' if len(named) == 1 else 'ies'} {', '.join(words)}")
    if removed:
        parts.append(f"drop the removed column(s) {', '.join(removed)}")
    reason = (f"first, on every materialized day ({all_days[0]} .. {all_days[-1]}): " + " and ".join(parts)
              + ", because the config changed since they were materialized")
    why = "changed config: " + ", ".join(named + [f"-{r}" for r in removed])
    return reason, PlannedTable(DAILY, all_days, named or removed, per_day * len(all_days), why)


def _rows_per_day(store) -> int:
    daily = store.snapshot(DAILY)
    counts = list(daily.rows_by_day().values()) if daily else []
    return counts[-1] if counts else 0


def plan_update(project: ResolvedProject, store, warehouse_path, kpis: list[str] | None = None,
                properties: list[str] | None = None) -> JobPlan:
    from asemic_core.jobs.incremental import update_is_up_to_date

    model_first, watermark = model_range(store)
    status = model_status(project, store)
    all_days = _days(model_first, watermark)
    per_day = _rows_per_day(store)
    if kpis or properties:
        targets = columns_for(project, kpis or [], properties or [])
        named = ", ".join([f"KPI {k}" for k in kpis or []] + [f"property {p}" for p in properties or []])
        plan = JobPlan("update (partial)", model_first, watermark, reasons=[
            f"recompute the {len(targets)} column(s) that {named} need(s), on every materialized day; "
            "every other column is copied unchanged"])
        stale = set(user_terms(project, status.stale))
        for name in user_terms(project, targets):
            why = "definition new or changed" if name in stale else "needed by the request"
            plan.reasons.append(f"property {name}: {why}")
        plan.tables.append(PlannedTable(DAILY, all_days, targets, per_day * len(all_days),
                                        "every partition rewritten; when these columns change only on activity days, "
                                        "they alone, on the activity rows, into a column table (compact folds it in)"))
        return plan
    up_to_date = update_is_up_to_date(project, store, warehouse_path)
    if up_to_date:
        return JobPlan("update", watermark, watermark, reasons=[up_to_date], up_to_date=True)
    executor = warehouse_executor(warehouse_path, project)
    try:
        day_range = source_day_range(executor, project)
    finally:
        executor.close()
    if day_range is None:
        raise JobError("the event tables hold no registrations or no activity")
    days = plan_update_days(project, daily_columns(project), model_first, watermark, day_range[1])
    plan = JobPlan("update", days.first, days.last, reasons=list(days.reasons))
    _with_stale_step(plan, project, store, all_days, per_day)
    schema = generate_schema(project)
    plan.tables.append(PlannedTable(DAILY, _days(days.first, days.last),
                                    user_terms(project, [c.name for c in schema.table(DAILY).columns]),
                                    per_day * days.days, "every column on these days"))
    plan.tables.append(_state_table(project, days.last, _users(store)))
    return plan


def _users(store) -> int:
    users = store.snapshot(USERS)
    return users.rows if users is not None else 0


def _with_stale_step(plan: JobPlan, project: ResolvedProject, store, all_days: list[str], per_day: int) -> None:
    """Put the stale-columns step first; the job then spans every materialized day."""
    reason, table = stale_step(project, store, all_days, per_day)
    if table is None:
        return
    plan.reasons.insert(0, reason)
    plan.tables.append(table)


def plan_rewind(project: ResolvedProject, store, day_from: dt.date, day_to: dt.date) -> JobPlan:
    model_first, watermark = model_range(store)
    check_rewind_range(day_from, day_to, model_first, watermark)
    days = plan_rewind_days(project, daily_columns(project), model_first, watermark, day_from, day_to)
    plan = JobPlan("rewind", days.first, days.last, reasons=list(days.reasons))
    per_day = _rows_per_day(store)
    _with_stale_step(plan, project, store, _days(model_first, watermark), per_day)
    schema = generate_schema(project)
    plan.tables.append(PlannedTable(DAILY, _days(days.first, days.last),
                                    user_terms(project, [c.name for c in schema.table(DAILY).columns]),
                                    per_day * days.days, "every column on these days"))
    plan.tables.append(_state_table(project, watermark, _users(store)))
    return plan
