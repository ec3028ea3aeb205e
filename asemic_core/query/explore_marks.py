"""What a chart must say about its own points so it does not mislead: buckets that hold fewer
days than a full week or month, cohort days that only the earliest cohorts have reached, and
group-by properties whose value changes for a user within the range (a user then counts in
several groups). Pure functions over dates, plus one query for the group check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from asemic_core.query.explore import bucket_end
from asemic_core.query.filters import literal
from asemic_core.query.model_source import ModelSource
from asemic_core.sql.render import ENGINE_DIALECT, render
from asemic_core.sql.sources import quoted

# Properties constant over a user's life by definition (cohort_day changes every day by design).
CONSTANT_KINDS = ("registration_property",)
CONSTANT_IDS = ("registration_date", "cohort_day", "entity_id")


@dataclass(frozen=True)
class PointMark:
    """A point computed from fewer days (or cohorts) than the others."""

    covered: int
    total: int
    note: str


def incomplete_buckets(starts: list[dt.date], grain: str, date_from: dt.date, date_to: dt.date,
                       first_day: dt.date | None = None, last_day: dt.date | None = None) -> dict[dt.date, PointMark]:
    """Buckets (weeks, months, ...) that the range, or the model, covers only in part."""
    if grain == "day":
        return {}
    low = max(date_from, first_day) if first_day else date_from
    high = min(date_to, last_day) if last_day else date_to
    out: dict[dt.date, PointMark] = {}
    for start in sorted(set(starts)):
        end = bucket_end(start, grain)
        total = (end - start).days + 1
        covered = max(0, (min(end, high) - max(start, low)).days + 1)
        if covered < total:
            out[start] = PointMark(covered, total, f"partial {grain}: {covered} of {total} days "
                                                   f"({max(start, low)} .. {min(end, high)})")
    return out


def immature_cohort_days(cohort_days: list[int], date_from: dt.date, date_to: dt.date,
                         last_day: dt.date) -> dict[int, PointMark]:
    """Cohort days that the later registration days of the range have not reached by the
    model's last day: such a point averages only the earliest cohorts."""
    registration_days = (date_to - date_from).days + 1
    out: dict[int, PointMark] = {}
    for day in sorted(set(cohort_days)):
        latest = min(date_to, last_day - dt.timedelta(days=day))
        reached = max(0, (latest - date_from).days + 1)
        if reached < registration_days:
            out[day] = PointMark(reached, registration_days,
                                 f"immature: {reached} of {registration_days} registration days have reached "
                                 f"day {day}" + (f" (registered through {latest})" if reached else ""))
    return out


def checked_group_properties(source: ModelSource, by: list[str]) -> list[str]:
    """The group-by properties that may change for a user over time."""
    out = []
    for name in by:
        prop = source.resolved.get_property(name)
        if prop is not None and prop.id not in CONSTANT_IDS and prop.kind not in CONSTANT_KINDS:
            out.append(prop.id)
    return out


def changing_groups(source: ModelSource, by: list[str], axis: str, date_from: dt.date,
                    date_to: dt.date) -> dict[str, tuple[int, int]]:
    """For each group-by property whose value changes for some user within the range:
    (users whose value changes, users). The range is of dates, or of registration dates on
    the cohort axis."""
    props = checked_group_properties(source, by)
    if not props:
        return {}
    cohort = axis == "cohort_day"
    columns = [*props, "registration_date"] if cohort else props

    def statement() -> str:
        plan = source.plan(columns, None if cohort else date_from, None if cohort else date_to)
        relation = exp.alias_(exp.Subquery(this=source.relation(plan)),
                              "m", table=True)
        where = exp.Between(this=quoted("registration_date" if cohort else "date", "m"), low=literal(date_from),
                            high=literal(date_to))
        per_user = exp.select(*[exp.alias_(_changes(quoted(p, "m")), f"c{i}", quoted=True) for i, p in enumerate(props)]
                              ).from_(relation).where(where).group_by(quoted("entity_id", "m"))
        sums = [exp.alias_(exp.func("coalesce", exp.Sum(this=exp.cast(quoted(f"c{i}"), "INTEGER")),
                                    exp.Literal.number(0)), f"c{i}", quoted=True) for i in range(len(props))]
        return render(exp.select(*sums, exp.alias_(exp.Count(this=exp.Star()), "users", quoted=True)).from_(
            exp.alias_(exp.Subquery(this=per_user), "u", table=True)), ENGINE_DIALECT)

    frame, _sql = source.run(statement)
    row = frame.row(0, named=True)
    return {p: (row[f"c{i}"], row["users"]) for i, p in enumerate(props) if row[f"c{i}"]}


def _changes(column: exp.Expression) -> exp.Expression:
    """More than one value over the user's rows (a NULL counts as a value)."""
    distinct = exp.Count(this=exp.Distinct(expressions=[column.copy()]))
    has_null = exp.cast(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Count(this=column.copy())), "INTEGER")
    return exp.GT(this=exp.Add(this=distinct, expression=has_null), expression=exp.Literal.number(1))
