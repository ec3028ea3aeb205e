"""Overview: health of the config, freshness of the model, recent jobs, lineage."""

from __future__ import annotations

import streamlit as st

from studio.session import config_version, open_project, show_issues, validation_report
from studio.views import engine_summary, jobs_rows, lineage, lineage_dot, project_files
from asemic_core.lineage import KINDS, kind_of, name_of

KIND_TITLES = {"event": "Event", "property": "Property", "kpi": "KPI"}

project = open_project()
files = project_files(project)
report = validation_report(str(project.root), config_version(project))
status = project.status()

st.title("Overview")
st.caption(f"Project `{project.root.name}`: what is defined, whether it is valid, and how fresh the model is.")
st.markdown(engine_summary(project, files))

counts = st.columns(5)
counts[0].metric("Event tables", len(files.events))
counts[1].metric("Properties", len(files.properties))
counts[2].metric("KPIs", len(files.kpis))
counts[3].metric("Materialized through", status.watermark or "never")
counts[4].metric("Columns to update", len(status.stale),
                 help="Columns whose definition changed, or that were never materialized")

health, freshness = st.columns(2, gap="large")
with health:
    st.subheader("Health")
    if report.ok:
        st.success(f"Config is valid: {len(report.warnings)} warning(s).", icon=":material/check_circle:")
    else:
        st.error(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in the config.",
                 icon=":material/error:")
    dry_run = report.dry_run
    if dry_run == "passed":
        st.markdown(":green[:material/task_alt:] Dry run against the warehouse **passed**: every event table "
                    "and expression compiles.")
    elif dry_run.startswith("failed"):
        st.markdown(f":red[:material/cancel:] Dry run against the warehouse **{dry_run}** (see the issues).")
    else:
        st.markdown(f":orange[:material/pending:] Dry run {dry_run}.")
    if report.issues:
        show_issues(report.issues)

with freshness:
    st.subheader("Model freshness")
    if status.watermark is None:
        st.warning("The model has not been materialized yet: run a refresh from the Jobs page.",
                   icon=":material/database:")
    else:
        st.markdown(f":material/database: Materialized **{status.first_day} .. {status.watermark}**: "
                    f"{status.partitions} day partition(s), {status.rows:,} user-days, "
                    f"{status.stored_rows:,} rows stored (the days on which a value changes).")
    if status.running_job:
        st.info(f"Job `{status.running_job}` is running.", icon=":material/sync:")
    changed = [c for c in status.columns if c.state != "fresh"]
    if changed:
        st.markdown(f":orange[:material/update:] {len(changed)} column(s) differ from the config; "
                    "the next update recomputes them:")
        st.dataframe([{"column": c.name, "state": c.state, "materialized": f"{c.first_day} .. {c.last_day}"
                       if c.first_day else ""} for c in changed], hide_index=True, width="stretch")
    elif status.watermark:
        st.markdown(":green[:material/check_circle:] Every column matches the config.")

st.subheader("Recent jobs")
jobs = project.jobs(10)
if jobs:
    st.dataframe(jobs_rows(jobs), hide_index=True, width="stretch")
else:
    st.caption("No job has run yet.")

st.subheader("Lineage")
graph = lineage(project)
order = {kind: i for i, kind in enumerate(KINDS)}
choices = sorted(graph.nodes, key=lambda k: (order[kind_of(k)], name_of(k)))
if st.session_state.get("overview_focus") not in choices:  # gone from the config since
    st.session_state["overview_focus"] = None
focus = st.selectbox(
    "Focus on", [None, *choices], key="overview_focus",
    format_func=lambda k: "Everything" if k is None else f"{KIND_TITLES[kind_of(k)]}: {name_of(k)}",
    help="Show only this object, what it reads (upstream) and what reads it (downstream).",
)
if focus is not None:
    upstream, downstream = graph.upstream_of(focus), graph.downstream_of(focus)
    st.caption(f"`{name_of(focus)}` reads {len(upstream)} object(s) and is read by {len(downstream)}.")
st.caption("Events (blue) feed properties (green), which feed KPIs (orange). Dashed: the implicit tables "
           "built from the tables tagged registration_event / activity_event. Inline sources are shown as "
           "part of their property.")
st.graphviz_chart(lineage_dot(project, focus), width="stretch")
