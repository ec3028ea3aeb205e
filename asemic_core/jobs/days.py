"""Planning incremental jobs: which days and columns to recompute, and why.

Pure functions over the resolved config and the model's state; nothing here reads data.
Days are inclusive at the edges of this module's API (as the CLI speaks) and every
extra day or column carries the reason it was added.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asemic_core.errors import JobError
from asemic_core.semantic.graph import dependency_closure
from asemic_core.semantic.kpi_formula import referenced_names
from asemic_core.semantic.model import ResolvedProject
from asemic_core.semantic.base_properties import ACTIVITY_BASED, COHORT_DAY, DAYS_SINCE_LAST_ACTIVE, KEYS

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Reach:
    forward: int  # a value on day d may depend on days up to d + forward
    backward: int | None  # days up to d + backward depend on day d (None: all later days)
    lookback: int  # the widest single window looks back this many days


def reach(project: ResolvedProject, columns: list[str]) -> Reach:
    """How far values depend on other days, through the dependency chains of ``columns``."""
    forward: dict[str, int] = {}
    backward: dict[str, int | None] = {}
    lookback = 0
    for name in dependency_closure(project, columns):
        prop = project.properties[name]
        deps = [project.property_aliases.get(d, d) for d in prop.depends_on]
        fwd = max((forward.get(d, 0) for d in deps), default=0)
        bwd_values = [backward.get(d, 0) for d in deps]
        bwd: int | None = None if any(v is None for v in bwd_values) else max(bwd_values, default=0)
        if prop.kind == "sliding_window_property":
            low, high = prop.definition.relative_days_from, prop.definition.relative_days_to
            fwd += max(0, high)
            if bwd is not None:
                bwd += max(0, -low)
            lookback = max(lookback, -low)
        elif prop.kind in ("lifetime_property", "fixed_window_property"):
            bwd = None
        elif prop.is_base and prop.id in ACTIVITY_BASED:
            bwd = None  # the last active day carries forward indefinitely
        forward[name], backward[name] = fwd, bwd
    values = [backward[c] for c in backward]
    return Reach(
        forward=max(forward.values(), default=0),
        backward=None if any(v is None for v in values) else max(values, default=0),
        lookback=lookback,
    )


@dataclass
class DayPlan:
    """Recompute every column on days [first, last]."""

    first: dt.date
    last: dt.date
    reasons: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def plan_update_days(project: ResolvedProject, columns: list[str], model_first: dt.date, watermark: dt.date,
                     source_end: dt.date) -> DayPlan:
    """The incremental job's days (SEMANTICS 8, update)."""
    settings = project.entity.model_settings if project.entity else None
    lookback = settings.lookback_days if settings else 0
    extent = reach(project, columns)
    last = max(source_end, watermark)
    first = watermark + DAY
    reasons = []
    if source_end > watermark:
        reasons.append(f"new days {watermark + DAY} .. {source_end} (after the watermark {watermark})")
    else:
        reasons.append(f"no new days in the sources (latest: {source_end}; watermark {watermark})")
    if lookback:
        first -= dt.timedelta(days=lookback)
        reasons.append(f"lookback_days: {lookback}: re-materialize {first} .. {watermark} for late events")
    if extent.forward:
        first -= dt.timedelta(days=extent.forward)
        reasons.append(f"windows look up to {extent.forward} day(s) ahead: days from {first} change with the new days")
    if first < model_first:
        first = model_first
    if first > last:
        first = last
    return DayPlan(first, last, reasons)


def plan_rewind_days(project: ResolvedProject, columns: list[str], model_first: dt.date, watermark: dt.date,
                     day_from: dt.date, day_to: dt.date) -> DayPlan:
    """Days A..B plus every day whose value depends on them (SEMANTICS 8, rewind)."""
    extent = reach(project, columns)
    reasons = [f"requested: {day_from} .. {day_to}"]
    first, last = day_from, day_to
    if extent.forward:
        first = max(model_first, day_from - dt.timedelta(days=extent.forward))
        if first < day_from:
            reasons.append(f"windows look up to {extent.forward} day(s) ahead: {first} .. {day_from - DAY} read the rewound days")
    if extent.backward is None:
        last = watermark
        if last > day_to:
            reasons.append(f"lifetime values, fixed windows and days since last activity carry forward: "
                           f"{day_to + DAY} .. {watermark} follow the rewound days (also moved registrations)")
    else:
        cascade = min(watermark, day_to + dt.timedelta(days=extent.backward))
        if cascade > day_to:
            reasons.append(f"windows look back up to {extent.backward} day(s): {day_to + DAY} .. {cascade} read the rewound days")
        last = cascade
    return DayPlan(max(first, model_first), min(last, watermark), reasons)


def columns_for(project: ResolvedProject, kpis: list[str], properties: list[str]) -> list[str]:
    """The non-key columns the named KPIs and properties need (their dependency closure)."""
    names: list[str] = [DAYS_SINCE_LAST_ACTIVE, COHORT_DAY]  # every KPI's populations read these
    for kpi_id in kpis:
        kpi = project.kpis[kpi_id]
        for agg in kpi.aggregations:  # referenced KPIs are unfolded into these
            names += list(agg.properties)
            for flt in agg.filters:
                names += referenced_names(flt, "__p__")
    names += properties
    canonical = [project.property_aliases.get(n, n) for n in names]
    return [c for c in dependency_closure(project, canonical) if c not in KEYS]


def calendar_months(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Calendar months of first .. last, clipped to it."""
    out = []
    start = first
    while start <= last:
        following = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        out.append((start, min(last, following - dt.timedelta(days=1))))
        start = following
    return out


def model_range(model) -> tuple[dt.date, dt.date]:
    """(first day, watermark) of a model version, a job's work or a store's published version."""
    if hasattr(model, "current"):
        model = model.current()
    if model is None or model.watermark is None:
        raise JobError("the model has not been materialized yet: run `asemic-cli model refresh` first")
    return dt.date.fromisoformat(model.first_day), dt.date.fromisoformat(model.watermark)


def check_rewind_range(day_from: dt.date, day_to: dt.date, model_first: dt.date, watermark: dt.date) -> None:
    if day_from > day_to:
        raise JobError(f"--from {day_from} is after --to {day_to}")
    if day_to < model_first or day_from > watermark:
        raise JobError(f"{day_from} .. {day_to} is outside the materialized days {model_first} .. {watermark}")
