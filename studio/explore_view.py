"""Explore's chart marks, group warnings and readable SQL (Streamlit and Altair side).

The facts come from ``asemic_core.query.explore_marks`` and ``readable_sql``; this module
caches them on plain values and draws them over the KPI chart of ``studio.charts``.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from asemic_core.project import Project
from asemic_core.query.explore import ExploreSeries, series_frame
from asemic_core.query.explore_marks import PointMark, changing_groups, immature_cohort_days, incomplete_buckets
from asemic_core.query.readable_sql import readable_sql
from asemic_core.semantic.kpi_totals import ratio_kpi_ids, sums_a_ratio
from studio.charts import kpi_chart
from studio.session import model_source

MARK_COLOR = "#e8590c"


@st.cache_data(show_spinner=False, max_entries=32)
def group_changes(root: str, config: str, data: str, by: tuple[str, ...], axis: str, date_from: dt.date,
                  date_to: dt.date) -> dict[str, tuple[int, int]]:
    """Group-by properties whose value changes for some user in the range (``data`` keys the cache)."""
    return changing_groups(model_source(root, config), list(by), axis, date_from, date_to)


def point_marks(series: ExploreSeries, first_day: dt.date, last_day: dt.date) -> dict:
    """Partial buckets (date axis) or immature cohort days (cohort axis) of one series."""
    if series.points.height == 0:
        return {}
    if series.axis == "date":
        return incomplete_buckets(series.points["date"].to_list(), series.grain, series.date_from, series.date_to,
                                  first_day, last_day)
    return immature_cohort_days(series.points["cohort_day"].to_list(), series.date_from, series.date_to, last_day)


def marked_chart(series: ExploreSeries, marks: dict, brush: str | None = None) -> alt.Chart | alt.LayerChart:
    """The KPI chart, with hollow orange points over the points that ``marks`` names."""
    chart = kpi_chart(series, brush)
    if not marks:
        return chart
    key = "date" if series.axis == "date" else "cohort_day"
    frame = series_frame(series).filter(pl.col(key).is_in(list(marks)) & pl.col("value").is_not_null())
    if frame.height == 0:
        return chart
    notes = [marks[k].note for k in frame[key].to_list()]
    frame = frame.with_columns(pl.Series("mark", notes, dtype=pl.String)).to_pandas()
    x = (alt.X("day:T", scale=alt.Scale(type="utc")) if series.axis == "date" else alt.X("cohort_day:O"))
    tooltips = [alt.Tooltip("day:N" if series.axis == "date" else "cohort_day:O", title=key.replace("_", " ")),
                *[alt.Tooltip(f"{b}:N") for b in series.by],
                alt.Tooltip("value_label:N", title=series.label), alt.Tooltip("mark:N", title="Note")]
    points = (alt.Chart(frame).mark_point(shape="circle", size=110, filled=True, fill="white", stroke=MARK_COLOR,
                                          strokeWidth=2.5, opacity=1)
              .encode(x=x, y=alt.Y("value:Q"), tooltip=tooltips))
    return alt.layer(chart, points)


def marks_caption(series: ExploreSeries, marks: dict[object, PointMark]) -> str | None:
    """One sentence under the chart saying which points are marked and why."""
    if not marks:
        return None
    if series.axis == "date":
        listed = "; ".join(f"{start}: {m.covered} of {m.total} days" for start, m in sorted(marks.items()))
        return (f":orange[:material/radio_button_unchecked:] Hollow points are incomplete {series.grain}s, "
                f"computed from fewer days than a full {series.grain} ({listed}).")
    days = sorted(marks)
    shown = ", ".join(str(d) for d in days[:8]) + (" ..." if len(days) > 8 else "")
    return (f":orange[:material/radio_button_unchecked:] Hollow points are immature cohort days ({shown}): only the "
            f"earliest registration days of {series.date_from} .. {series.date_to} have reached them, so they "
            "average fewer cohorts than the other points.")


def group_warning(changes: dict[str, tuple[int, int]], date_from: dt.date, date_to: dt.date, axis: str) -> str | None:
    if not changes:
        return None
    parts = [f"`{p}` for {changed:,} of {users:,} users" for p, (changed, users) in changes.items()]
    span = "registered" if axis == "cohort_day" else "active"
    return (f"The value of {', '.join(parts)} ({span} {date_from} .. {date_to}) changes within the range: such a "
            "user counts in a different group on different days, so a group's points follow different users over "
            "time (a retention of 100 % can mean users moving into the group). Group by a property that is constant "
            "per user (e.g. a registration property) to follow fixed groups.")


def series_sql(project: Project, series: ExploreSeries) -> str:
    """The query of one series, readable: catalog views instead of partition files."""
    resolved = project.resolved()
    schema = resolved.entity.model_schema if resolved.entity else "asemic_model"
    model_dir = project.model_dir()
    header = [f"KPI {series.kpi} ({series.label}), {series.date_from} .. {series.date_to}, "
              + (f"by {series.grain}" if series.axis == "date" else "by cohort day")
              + (f", grouped by {', '.join(series.by)}" if series.by else ""),
              f'"{schema}".* are the views of {model_dir / "catalog.duckdb"}:',
              f"run it with `duckdb -readonly {model_dir / 'catalog.duckdb'}`."]
    if series.adhoc_columns:
        header.append(f"Computed from the warehouse on the fly: {', '.join(series.adhoc_columns)}.")
    return readable_sql(series.sql, schema, model_dir, header)


def ratio_warning(resolved, series: ExploreSeries) -> str | None:
    """A ratio-like KPI whose weeks, months or total add its daily ratios up (total_function: sum)."""
    if not sums_a_ratio(resolved.kpis[series.kpi], series.axis, series.grain, ratio_kpi_ids(resolved.kpis)):
        return None
    return (f"{series.label} is a ratio, but its total function is `sum`: "
            + (f"each {series.grain} adds up its daily ratios, and " if series.grain != "day" else "")
            + "the total adds up the points. Set `total_function: avg` on the KPI to average them.")
