"""What the Explore page needs besides the KPI query itself: the choices it offers, filters
built from form rows, value formatting with KPI units, and brushed ranges as days.

Pure functions over resolved objects and query results (no Streamlit), so they are tested
directly and the page stays a description of the UI.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import polars as pl

from asemic_core.errors import AsemicError
from asemic_core.query.filters import OPERATORS, Filter, parse_filter
from asemic_core.query.kpi import AXES, KpiResult
from asemic_core.semantic.model import ResolvedKpi, ResolvedProject

# Base properties that make sense as groups even when not flagged can_group_by.
BASE_GROUPS = ("registration_date", "cohort_day")
NO_VALUE_OPERATORS = ("is null", "is not null")
DEFAULT_DAYS = 30


@dataclass
class ExploreSeries:
    """One KPI's answer, reduced to plain values (cacheable, picklable)."""

    kpi: str
    label: str
    unit_symbol: str | None
    unit_is_prefix: bool
    axis: str
    grain: str
    by: list[str]
    total_function: str
    points: pl.DataFrame
    totals: pl.DataFrame
    total: float | None
    date_from: dt.date
    date_to: dt.date
    adhoc_columns: list[str] = field(default_factory=list)
    sql: str = ""

    @classmethod
    def of(cls, result: KpiResult) -> ExploreSeries:
        request = result.request
        return cls(
            kpi=result.kpi.id, label=result.kpi.label, unit_symbol=result.kpi.unit_symbol,
            unit_is_prefix=result.kpi.unit_is_prefix, axis=request.x_axis, grain=request.grain, by=list(request.by),
            total_function=result.kpi.x_axes[request.x_axis], points=result.points, totals=result.totals,
            total=result.total, date_from=result.date_from, date_to=result.date_to,
            adhoc_columns=list(result.adhoc_columns), sql=result.sql,
        )

    def format(self, value: float | None) -> str:
        return format_value(value, self.unit_symbol, self.unit_is_prefix)

    @property
    def empty(self) -> bool:
        """No point has a value (no user matches, or nothing is materialized there)."""
        return self.points.height == 0 or self.points["value"].null_count() == self.points.height

    @property
    def total_caption(self) -> str:
        """What the total is (the axis' total_function over the points), e.g. 'Average per day'."""
        unit = "cohort day" if self.axis == "cohort_day" else self.grain
        words = {"sum": f"Total over the {unit}s", "avg": f"Average per {unit}", "min": f"Lowest per {unit}",
                 "max": f"Highest per {unit}", "count": f"{unit.capitalize()}s with a value"}
        return f"{words.get(self.total_function, self.total_function)}, {self.date_from} .. {self.date_to}"


def kpi_choices(project: ResolvedProject) -> list[str]:
    return list(project.kpis)


def shared_axes(kpis: list[ResolvedKpi]) -> list[str]:
    """The x axes every chosen KPI defines, in the canonical order."""
    return [axis for axis in AXES if kpis and all(axis in k.x_axes for k in kpis)]


def axes_conflict(kpis: list[ResolvedKpi]) -> str:
    """Which chosen KPIs keep the others from sharing an axis, grouped by the only axis they have."""
    only: dict[str, list[str]] = {}
    for kpi in kpis:
        if len(kpi.x_axes) == 1:
            only.setdefault(next(iter(kpi.x_axes)), []).append(kpi.label)
    return "; ".join(f"only {axis}: {', '.join(labels)}" for axis, labels in only.items())


def group_by_choices(project: ResolvedProject) -> list[str]:
    return [p.id for p in project.properties.values()
            if not p.hidden and (p.can_group_by or p.id in BASE_GROUPS)]


def filter_choices(project: ResolvedProject) -> list[str]:
    return [p.id for p in project.properties.values() if not p.hidden and p.can_filter and p.id != "entity_id"]


def operators() -> tuple[str, ...]:
    return OPERATORS


def value_hint(project: ResolvedProject, prop: str | None, op: str | None) -> str:
    """A placeholder for the value box: what a valid value looks like."""
    if not prop or op in NO_VALUE_OPERATORS:
        return ""
    found = project.get_property(prop)
    examples = {"date": "2026-01-31", "datetime": "2026-01-31 12:00", "integer": "3", "number": "9.99",
                "boolean": "true", "string": "text"}
    example = examples.get(found.data_type.value, "value") if found else "value"
    if op in ("in", "not in"):
        return f"{example}, {example}"
    return example


def make_filter(project: ResolvedProject, prop: str, op: str, raw: str | None) -> Filter:
    """One form row as a Filter; a wrong value raises AsemicError with a message for that row."""
    if op not in OPERATORS:
        raise AsemicError(f"unknown operator {op!r}: use one of {', '.join(OPERATORS)}")
    raw = (raw or "").strip()
    if op in NO_VALUE_OPERATORS:
        return parse_filter(f"{prop} {op}", project)
    if not raw:
        raise AsemicError(f"{prop} {op} ...: enter a value")
    if op in ("=", "!=") and "," in raw and not (len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""):
        several = "in" if op == "=" else "not in"
        raise AsemicError(f"{prop} {op} {raw}: '{op}' compares with one value; to match any of several values "
                          f"choose the operator '{several}', or quote the text ('{raw}') to compare with it as typed")
    return parse_filter(f"{prop} {op} {raw}", project)


def default_range(first_day: str | dt.date | None, last_day: str | dt.date | None,
                  days: int = DEFAULT_DAYS) -> tuple[dt.date, dt.date] | None:
    """The last ``days`` materialized days (fewer when the model is shorter)."""
    if not first_day or not last_day:
        return None
    first, last = _as_date(first_day), _as_date(last_day)
    return max(first, last - dt.timedelta(days=days - 1)), last


def format_value(value: float | None, symbol: str | None = None, is_prefix: bool = False) -> str:
    if value is None or value != value:  # None or NaN
        return "–"
    text = f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 1000 else f"{value:,.2f}"
    if not symbol:
        return text
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    if is_prefix:
        return f"{sign}{symbol}{digits}"
    spacer = " " if symbol[:1].isalpha() else ""
    return f"{text}{spacer}{symbol}"


def bucket_end(start: dt.date, grain: str) -> dt.date:
    """The last day of the ``grain`` bucket starting on ``start``."""
    match grain:
        case "day":
            return start
        case "week":
            return start + dt.timedelta(days=6)
        case "month" | "quarter" | "year":
            months = {"month": 1, "quarter": 3, "year": 12}[grain]
            index = start.year * 12 + start.month - 1 + months
            return dt.date(index // 12, index % 12 + 1, 1) - dt.timedelta(days=1)
    raise AsemicError(f"unknown grain {grain!r}")


def brushed_days(bounds, grain: str, points: list[dt.date], first: dt.date | None = None,
                 last: dt.date | None = None) -> tuple[dt.date, dt.date] | None:
    """The days of the points whose bucket (a day, a week, ...) the brushed x interval
    touches, clipped to the model. Vega-Lite sends epoch milliseconds or ISO strings."""
    if not bounds or len(bounds) != 2:
        return None
    low, high = sorted(_bound_time(b) for b in bounds)
    touched = [(p, bucket_end(p, grain)) for p in sorted(set(points))
               if _midnight(p) < high and _midnight(bucket_end(p, grain) + dt.timedelta(days=1)) > low]
    if not touched:
        return None
    day_from, day_to = touched[0][0], touched[-1][1]
    if first:
        day_from = max(day_from, first)
    if last:
        day_to = min(day_to, last)
    return (day_from, day_to) if day_from <= day_to else None


def series_frame(series: ExploreSeries) -> pl.DataFrame:
    """The points ready to chart: a text x value, one series label per group, a formatted value."""
    frame = series.points
    if series.by:
        frame = frame.with_columns(pl.concat_str([pl.col(b).cast(pl.String).fill_null("(null)") for b in series.by],
                                                 separator=" · ").alias("series"))
    else:
        frame = frame.with_columns(pl.lit(series.label).alias("series"))
    labels = [series.format(v) for v in frame["value"].to_list()]
    frame = frame.with_columns(pl.Series("value_label", labels, dtype=pl.String))
    if series.axis == "date":
        frame = frame.with_columns(pl.col("date").cast(pl.String).alias("day"))
    return frame


def results_csv(series: list[ExploreSeries]) -> bytes:
    """Every KPI's points in one table: kpi, axis column, group columns, value."""
    frames = [s.points.select(pl.lit(s.kpi).alias("kpi"), pl.all()) for s in series]
    if not frames:
        return b""
    buffer = io.BytesIO()
    pl.concat(frames, how="diagonal_relaxed").write_csv(buffer)
    return buffer.getvalue()


def _as_date(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def _bound_time(value) -> dt.datetime:
    """A brush bound as a UTC instant (the chart draws days at UTC midnight)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return _midnight(value)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise AsemicError(f"cannot read the brushed date {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
