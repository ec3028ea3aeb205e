"""Job plans: what a job would write and why, as a value (printing it changes nothing)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlglot import exp

from asemic_core.engine import source_day_range, warehouse_connection
from asemic_core.errors import JobError
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.render import render
from asemic_core.sql.sources import quoted, registrations_relation
from asemic_core.storage.schema import generate_schema
from asemic_core.storage.store import DAILY, USERS


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

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "first_day": self.first_day, "last_day": self.last_day, "reasons": self.reasons,
            "tables": [t.__dict__ for t in self.tables],
        }

    def describe(self) -> str:
        days = (self.last_day - self.first_day).days + 1
        lines = [f"{self.kind}: {days} day(s) from {self.first_day} to {self.last_day}"]
        lines += [f"  why: {reason}" for reason in self.reasons]
        for table in self.tables:
            lines.append(f"  table {table.name}: {len(table.days)} partition(s), {len(table.columns)} column(s), "
                         f"~{table.estimated_rows:,} rows ({table.reason})")
            lines.append("    columns: " + ", ".join(table.columns))
        return "\n".join(lines)


def plan_refresh(project: ResolvedProject, warehouse_path) -> JobPlan:
    con = warehouse_connection(warehouse_path)
    try:
        day_range = source_day_range(con, project)
        if day_range is None:
            raise JobError("the event tables hold no registrations or no activity: nothing to materialize")
        first, last = day_range
        users, rows = estimate_rows(con, project, first, last)
    finally:
        con.close()
    schema = generate_schema(project)
    days = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    plan = JobPlan("refresh", first, last, reasons=[
        "refresh rebuilds every materialized day and every column",
        f"days: from {'model_settings.start_date' if project.start_date else 'the earliest registration'} ({first}) "
        f"to the latest activity day{' capped by model_settings.end_date' if project.entity and project.entity.model_settings.end_date else ''} ({last})",
    ])
    plan.tables.append(PlannedTable(DAILY, days, [c.name for c in schema.table(DAILY).columns], rows,
                                    "one row per registered user and day"))
    plan.tables.append(PlannedTable(USERS, ["all"], [c.name for c in schema.table(USERS).columns], users,
                                    "one row per registered user"))
    return plan


def estimate_rows(con, project: ResolvedProject, first: dt.date, last: dt.date) -> tuple[int, int]:
    last_lit = exp.cast(exp.Literal.string(last.isoformat()), "DATE")
    first_lit = exp.cast(exp.Literal.string(first.isoformat()), "DATE")
    days = exp.Add(this=exp.DateDiff(this=last_lit, expression=exp.func("GREATEST", quoted("date"), first_lit),
                                     unit=exp.var("DAY")), expression=exp.Literal.number(1))
    query = exp.select(exp.Count(this=exp.Star()), exp.func("COALESCE", exp.Sum(this=days), exp.Literal.number(0))).from_(
        exp.alias_(registrations_relation(project), "r", table=True)).where(exp.LTE(this=quoted("date"), expression=last_lit))
    users, rows = con.sql(render(query)).fetchall()[0]
    return int(users), int(rows)
