"""Charts and small renderers of the Explore and Jobs pages (Streamlit and Altair).

The numbers come from the facade; this module only draws them. Cached readers are keyed
on plain values: the project root, the config version and the model version (the
newest job and its status, so a finished job shows new numbers at the next rerun).
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from studio.chart_axes import axis_title, date_axis, day_band_axis
from studio.session import model_source
from asemic_core.jobs.plan import JobPlan
from asemic_core.jobs.requests import JobRow, duration_text, when
from asemic_core.project import Project
from asemic_core.query.explore import ExploreSeries, series_frame
from asemic_core.query.filters import Filter
from asemic_core.query.kpi import KpiRequest

STATUS_COLORS = {"succeeded": "#2e7d32", "failed": "#c62828", "interrupted": "#ef6c00", "running": "#1565c0",
                 "queued": "#78909c"}
AXIS_TITLES = {"day": "Date", "week": "Week starting", "month": "Month", "quarter": "Quarter starting", "year": "Year"}


def model_version(project: Project) -> str:
    """Changes when a job starts or finishes (cache key for query results)."""
    jobs = project.jobs(1)
    return f"{jobs[0].id}:{jobs[0].status}" if jobs else "none"


@st.cache_data(show_spinner=False, max_entries=64)
def explore_series(root: str, config: str, data: str, kpi: str, date_from: dt.date, date_to: dt.date, axis: str,
                   grain: str, by: tuple[str, ...], filters: tuple[tuple, ...]) -> ExploreSeries:
    """One KPI query, cached on plain values (``config``/``data`` only key the cache)."""
    request = KpiRequest(kpi, date_from, date_to, x_axis=axis, grain=grain, by=list(by),
                         filters=[Filter(*f) for f in filters])
    result = Project(root).kpi_query(request, source=model_source(root, config))
    return ExploreSeries.of(result)


def drop_stale_choices(key: str, options: list) -> None:
    """Forget chosen values a config edit removed, before the widget under ``key`` is drawn."""
    value = st.session_state.get(key)
    if isinstance(value, list):
        kept = [v for v in value if v in options]
        if kept != value:
            st.session_state[key] = kept
    elif value is not None and value not in options:
        del st.session_state[key]


def _unit_label_expr(symbol: str | None, is_prefix: bool) -> str | None:
    if not symbol:
        return None
    quoted = "'" + symbol.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{quoted} + datum.label" if is_prefix else f"datum.label + {quoted}"


def kpi_chart(series: ExploreSeries, brush: str | None = None, height: int = 280) -> alt.Chart:
    """A line per group over the date or cohort_day axis; ``brush`` names an x interval selection."""
    frame = series_frame(series).to_pandas()
    label_expr = _unit_label_expr(series.unit_symbol, series.unit_is_prefix)
    y = alt.Y("value:Q", title=axis_title(series.label, height),
              axis=alt.Axis(labelExpr=label_expr) if label_expr else alt.Axis())
    if series.axis == "date":
        buckets = sorted({d for d in series.points["date"].to_list() if d is not None})
        x = alt.X("day:T", title=AXIS_TITLES[series.grain], scale=alt.Scale(type="utc"),
                  axis=date_axis(series.grain, buckets))
        x_tip = alt.Tooltip("day:N", title=AXIS_TITLES[series.grain])
    else:
        x = alt.X("cohort_day:O", title="Cohort day (days since registration)", axis=alt.Axis(labelAngle=0))
        x_tip = alt.Tooltip("cohort_day:O", title="Cohort day")
    per_series = frame.groupby("series").size().max() if len(frame) else 0
    tooltips = [x_tip]
    if series.by:
        tooltips += [alt.Tooltip(f"{b}:N", title=b) for b in series.by]
    tooltips.append(alt.Tooltip("value_label:N", title=series.label))
    color = (alt.Color("series:N", title=" · ".join(series.by), scale=alt.Scale(scheme="tableau10"),
                       legend=alt.Legend(orient="bottom", columns=6))
             if series.by else alt.value("#4c78a8"))
    chart = (alt.Chart(frame).mark_line(point=bool(per_series <= 62), interpolate="linear")
             .encode(x=x, y=y, color=color, tooltip=tooltips)
             .properties(height=height))
    if brush:
        chart = chart.add_params(alt.selection_interval(name=brush, encodings=["x"]))
    return chart


def job_durations_chart(rows: list[JobRow]) -> alt.Chart:
    """One bar per job (oldest left), coloured by status."""
    frame = pl.DataFrame([{"id": r.id, "kind": r.kind, "status": r.status, "started": r.started,
                           "seconds": r.duration_s or 0.0, "duration": duration_text(r.duration_s),
                           "message": r.error or r.message, "order": r.created_at} for r in rows]).to_pandas()
    order = frame.sort_values("order")["id"].tolist()
    return (alt.Chart(frame).mark_bar(size=min(32, max(4, 600 // max(len(order), 1))))
            .encode(x=alt.X("id:N", sort=order, title="Jobs, oldest first (hover a bar for details)",
                            axis=alt.Axis(labels=False, ticks=False)),
                    y=alt.Y("seconds:Q", title="Duration (s)"),
                    color=alt.Color("status:N", scale=alt.Scale(domain=list(STATUS_COLORS),
                                                                range=list(STATUS_COLORS.values())),
                                    legend=alt.Legend(orient="right")),
                    tooltip=["id", "kind", "status", "started", "duration", "message"])
            .properties(height=200))


def job_days_chart(days: list[tuple[str, int, float]]) -> alt.Chart:
    """Rows written and seconds spent per day of one job, one above the other."""
    frame = pl.DataFrame(days, schema=["day", "rows", "seconds"], orient="row").to_pandas()
    base = alt.Chart(frame).encode(x=alt.X("day:O", title="Day", axis=day_band_axis()),
                                   tooltip=[alt.Tooltip("day:N", title="Day"), alt.Tooltip("rows:Q", format=","),
                                            alt.Tooltip("seconds:Q", format=".3f")])
    rows = (base.mark_bar(color="#4c78a8")  # the day axis once, under the second chart
            .encode(x=alt.X("day:O", title=None, axis=day_band_axis(labels=False, ticks=False)),
                    y=alt.Y("rows:Q", title="Rows")).properties(height=160))
    seconds = base.mark_bar(color="#f58518").encode(y=alt.Y("seconds:Q", title="Seconds")).properties(height=120)
    return alt.vconcat(rows, seconds).resolve_scale(x="shared")


def render_plan(plan: JobPlan) -> None:
    """A job plan: days, reasons, tables with their columns, and the CLI's text."""
    days = (plan.last_day - plan.first_day).days + 1
    st.markdown(f"**{plan.kind}**: {days} day(s), **{plan.first_day}** .. **{plan.last_day}**")
    for reason in plan.reasons:
        st.markdown(f"- {reason}")
    st.dataframe(
        [{"table": t.name, "partitions": len(t.days),
          "days": f"{t.days[0]} .. {t.days[-1]}" if t.days and t.days[0] != "all" else "all",
          "columns": len(t.columns), "estimated rows": t.estimated_rows, "why": t.reason} for t in plan.tables],
        hide_index=True, width="stretch",
        column_config={"estimated rows": st.column_config.NumberColumn(format="localized")},
    )
    with st.expander("Columns and plan text"):
        for table in plan.tables:
            st.markdown(f"`{table.name}` ({table.reason}): " + ", ".join(f"`{c}`" for c in table.columns))
        st.code(plan.describe(), language=None)


def job_heading(record) -> str:
    started = when(record.started_at or record.created_at)
    return f"{record.id} · {record.kind} · {record.status} · {started}"
