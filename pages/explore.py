"""Explore: KPI charts over dates or cohort days, grouped and filtered; drag to zoom into days,
then rewind the days zoomed into."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from studio.charts import drop_stale_choices, explore_series, model_version, render_plan
from studio.explore_view import group_changes, group_warning, marked_chart, marks_caption, point_marks, \
    ratio_warning, series_sql
from studio.job_status import job_outcome, job_progress
from studio.session import config_version, open_project, show_error
from asemic_core.errors import AsemicError, JobError
from asemic_core.jobs import children
from asemic_core.jobs.launcher import launch_job
from asemic_core.query import explore
from asemic_core.query.kpi import GRAINS

project = open_project()
st.title("Explore")

try:
    resolved = project.resolved()
    status = project.status()
except AsemicError as err:
    show_error(err)
    st.stop()

if not status.watermark:
    st.warning("The model has not been materialized yet: run a refresh on the Jobs page first.")
    st.page_link("pages/jobs.py", label="Open Jobs", icon=":material/play_circle:")
    st.stop()
if not resolved.kpis:
    st.info("The config defines no KPIs yet; add one on the KPIs page.")
    st.stop()

first_day = dt.date.fromisoformat(status.first_day)
last_day = dt.date.fromisoformat(status.watermark)
ROWS = "explore_filter_rows"
st.session_state.setdefault(ROWS, [])
st.session_state.setdefault("explore_next_row", 0)


def add_filter_row() -> None:
    st.session_state[ROWS] = [*st.session_state[ROWS], st.session_state["explore_next_row"]]
    st.session_state["explore_next_row"] += 1


def remove_filter_row(row: int) -> None:
    st.session_state[ROWS] = [r for r in st.session_state[ROWS] if r != row]


def apply_zoom(first: dt.date, last: dt.date) -> None:
    """Before the date input is drawn: the default range, a zoom asked by a drag, within the model."""
    if (target := st.session_state.pop("explore_zoom_to", None)) is not None:
        st.session_state[ZOOMS] = [*st.session_state.get(ZOOMS, []), st.session_state.get(DATES)]
        st.session_state[DATES] = target
    current = st.session_state.get(DATES)
    if not isinstance(current, (tuple, list)) or not current or not first <= current[0] <= last:
        st.session_state[DATES] = explore.default_range(first, last)
    elif len(current) == 2 and current[1] is not None and not first <= current[1] <= last:
        st.session_state[DATES] = (current[0], min(max(current[1], first), last))


def zoom_out() -> None:
    stack = st.session_state.get(ZOOMS, [])
    if stack:
        st.session_state[DATES] = stack[-1]
        st.session_state[ZOOMS] = stack[:-1]


# -- inputs ---------------------------------------------------------------------------
kpi_ids = explore.kpi_choices(resolved)
group_choices, prop_choices = explore.group_by_choices(resolved), explore.filter_choices(resolved)
drop_stale_choices("explore_kpis", kpi_ids)
drop_stale_choices("explore_by", group_choices)
for row in st.session_state[ROWS]:
    drop_stale_choices(f"explore_filter_prop_{row}", prop_choices)
st.session_state.setdefault("explore_kpis", kpi_ids[:1])
chosen = st.multiselect("KPIs", kpi_ids, key="explore_kpis",
                        format_func=lambda k: f"{resolved.kpis[k].label} ({k})" if k in resolved.kpis else k)
chosen = [k for k in chosen if k in resolved.kpis]
if not chosen:
    st.info("Choose one or more KPIs to chart.")
    st.stop()
kpis = [resolved.kpis[k] for k in chosen]
axes = explore.shared_axes(kpis)
if not axes:
    st.error("These KPIs share no x axis, so they cannot be charted together (" + explore.axes_conflict(kpis)
             + "). Keep the KPIs of one axis.")
    st.stop()

DATES, ZOOMS = "explore_dates", "explore_zoom_stack"
apply_zoom(first_day, last_day)
left, middle, right = st.columns([2, 1.2, 1])
picked = left.date_input("Dates (registration dates on the cohort axis)", min_value=first_day, max_value=last_day,
                         key=DATES, format="YYYY-MM-DD")
axis = middle.radio("X axis", axes, horizontal=True, key="explore_axis",
                    format_func=lambda a: "Date" if a == "date" else "Cohort day")
grain = right.selectbox("Grain", GRAINS, key="explore_grain", disabled=axis == "cohort_day",
                        help="The cohort_day axis has one point per cohort day; the grain applies to dates.")
grain = "day" if axis == "cohort_day" else grain

groups, toggles = st.columns([3, 1])
by = groups.multiselect("Group by", group_choices, key="explore_by",
                        help="Properties with can_group_by, plus registration_date and cohort_day.")
show_table = toggles.toggle("Show tables", key="explore_table")
show_sql = toggles.toggle("Show SQL", key="explore_sql")

filters, filter_errors = [], False
with st.container(border=True):
    head, button = st.columns([4, 1])
    head.markdown("**Filters** (all must hold)")
    button.button("Add filter", icon=":material/add:", on_click=add_filter_row, key="explore_add_filter",
                  width="stretch")
    for row in st.session_state[ROWS]:
        cols = st.columns([2, 1.2, 2.5, 0.5], vertical_alignment="bottom")
        prop = cols[0].selectbox("Property", prop_choices, index=None, key=f"explore_filter_prop_{row}",
                                 placeholder="property", label_visibility="collapsed")
        op = cols[1].selectbox("Operator", explore.operators(), key=f"explore_filter_op_{row}",
                               label_visibility="collapsed")
        no_value = op in explore.NO_VALUE_OPERATORS
        raw = cols[2].text_input("Value", key=f"explore_filter_value_{row}", disabled=no_value,
                                 placeholder=explore.value_hint(resolved, prop, op), label_visibility="collapsed")
        cols[3].button("", icon=":material/close:", key=f"explore_filter_remove_{row}", help="Remove this filter",
                       on_click=remove_filter_row, args=(row,))
        if prop is None:
            continue
        try:
            filters.append(explore.make_filter(resolved, prop, op, None if no_value else raw))
        except AsemicError as err:
            filter_errors = True
            st.error(err.message, icon=":material/error:")
    if not st.session_state[ROWS]:
        st.caption("No filters: every user counts.")

if not isinstance(picked, (tuple, list)) or len(picked) != 2:
    st.info("Pick the last day of the range too.")
    st.stop()
if filter_errors:
    st.stop()
date_from, date_to = picked


REWIND = "explore_rewind_days"


def ask_rewind(days: tuple[dt.date, dt.date]) -> None:
    st.session_state[REWIND] = days


def drop_rewind() -> None:
    st.session_state.pop(REWIND, None)


@st.dialog("Rewind these days", width="large", on_dismiss=drop_rewind)
def rewind_dialog(day_from: dt.date, day_to: dt.date) -> None:
    st.write(f"Recompute the model for the days you selected, **{day_from} .. {day_to}**, and every later day "
             "that depends on them.")
    try:
        plan = project.plan_rewind(day_from, day_to)
    except AsemicError as err:
        show_error(err)
        return
    render_plan(plan)
    planned = f"{plan.first_day} .. {plan.last_day}"
    confirm, cancel = st.columns(2)
    if cancel.button("Cancel", width="stretch", key="explore_rewind_cancel"):
        drop_rewind()
        st.rerun()
    if confirm.button(f"Rewind {planned}", type="primary", width="stretch", key="explore_rewind_confirm"):
        try:
            process = launch_job(project, "rewind", {"from": day_from.isoformat(), "to": day_to.isoformat()})
            children.keep(process)
        except JobError as err:
            show_error(err)
            return
        drop_rewind()
        st.session_state["explore_launched"] = (process.job_id, f"rewind {planned}")
        st.rerun()


# -- results --------------------------------------------------------------------------
root, config, data = str(project.root), config_version(project), model_version(project)
filter_key = tuple((f.property, f.op, f.value) for f in filters)
results = []
with st.spinner("Querying..."):
    for kpi in chosen:
        try:
            results.append(explore_series(root, config, data, kpi, date_from, date_to, axis, grain, tuple(by),
                                          filter_key))
        except AsemicError as err:
            st.markdown(f"**{resolved.kpis[kpi].label}**")
            show_error(err)

if launched := st.session_state.get("explore_launched"):
    job_progress(project, *launched)
job_outcome()

zoom_note, zoom_actions = st.columns([3, 2], vertical_alignment="center")
if st.session_state.get(ZOOMS):
    zoom_note.caption(f":material/zoom_in: Zoomed to **{date_from} .. {date_to}** "
                      f"({(date_to - date_from).days + 1} day(s)). Drag again to zoom further.")
    out, rewind = zoom_actions.columns(2)
    out.button("Zoom out", icon=":material/zoom_out:", key="explore_zoom_out", on_click=zoom_out, width="stretch")
    rewind.button("Rewind these days...", icon=":material/history:", key="explore_rewind", width="stretch",
                  on_click=ask_rewind, args=((date_from, date_to),),
                  help="Recompute the model for the selected days (shows the plan first).")
else:
    zoom_note.caption(":material/zoom_in: Drag across a chart to zoom into those days; the selected days can then "
                      "be rewound.")

if by and (warning := group_warning(group_changes(root, config, data, tuple(by), axis, date_from, date_to),
                                     date_from, date_to, axis)):
    st.warning(warning, icon=":material/warning:")

summary = f"{len(results)} KPI(s), {date_from} .. {date_to}" + (f", by {', '.join(by)}" if by else "") + \
    (f", where {' and '.join(f.describe() for f in filters)}" if filters else "")
caption, download = st.columns([4, 1], vertical_alignment="center")
caption.caption(summary)
download.download_button("Download CSV", explore.results_csv(results), file_name=f"kpis_{date_from}_{date_to}.csv",
                         mime="text/csv", icon=":material/download:", width="stretch", disabled=not results,
                         key="explore_csv")

grid = st.columns(2) if len(results) > 1 else [st.container()]
for index, series in enumerate(results):
    with grid[index % len(grid)].container(border=True):
        st.markdown(f"#### {series.label}")
        if series.empty:
            st.info("No values for this selection: no user matches the filters on these days.",
                    icon=":material/filter_alt_off:")
            continue
        if series.by:
            totals = series.totals.to_dicts()
            st.caption(f"{series.total_caption}: **{series.format(series.total)}** overall; "
                       + ", ".join(f"{' · '.join(str(t[b]) for b in series.by)} {series.format(t['total'])}"
                                   for t in totals[:8]) + (" ..." if len(totals) > 8 else ""))
        else:
            st.metric(series.total_caption, series.format(series.total))
        if series.adhoc_columns:
            st.info(f"{', '.join(series.adhoc_columns)}: computed on the fly; run an update to materialize.",
                    icon=":material/bolt:")
        if warning := ratio_warning(resolved, series):
            st.warning(warning, icon=":material/functions:")
        marks = point_marks(series, first_day, last_day)
        brush = f"brush_{series.kpi}" if series.axis == "date" else None
        chart_key = f"explore_chart_{series.kpi}_{series.grain}_{series.date_from}_{series.date_to}"
        event = st.altair_chart(marked_chart(series, marks, brush), key=chart_key,
                                on_select="rerun" if brush else "ignore", width="stretch")
        if note := marks_caption(series, marks):
            st.caption(note)
        if brush:
            bounds = (((event or {}).get("selection") or {}).get(brush) or {}).get("day")
            days = explore.brushed_days(bounds, series.grain, series.points["date"].to_list(), first_day, last_day)
            if days and days != (date_from, date_to):
                st.session_state["explore_zoom_to"] = days
                st.rerun()
        if show_table:
            st.dataframe(series.points, hide_index=True, width="stretch")
            if series.by:
                st.dataframe(series.totals, hide_index=True, width="stretch")
        if show_sql:
            st.code(series_sql(project, series), language="sql", wrap_lines=False)

if REWIND in st.session_state:
    rewind_dialog(*st.session_state[REWIND])
