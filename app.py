"""The asemic studio: a Streamlit router over the engine facade.

Opens the project in $ASEMIC_PROJECT, or creates and opens the demo project on first start.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from studio.job_status import progress_line
from studio.session import config_version, enter_router, open_project, validation_report
from asemic_core.git_repo import git_summary

st.set_page_config(page_title="asemic", page_icon=":material/insights:", layout="wide")

pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/events.py", title="Events", icon=":material/table_rows:"),
    st.Page("pages/properties.py", title="Properties", icon=":material/person:"),
    st.Page("pages/kpis.py", title="KPIs", icon=":material/monitoring:"),
    st.Page("pages/schema.py", title="Schema", icon=":material/schema:"),
    st.Page("pages/explore.py", title="Explore", icon=":material/query_stats:"),
    st.Page("pages/jobs.py", title="Jobs", icon=":material/play_circle:"),
    st.Page("pages/git.py", title="Git", icon=":material/commit:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
]
# Declare the pages first: from then on Streamlit ignores the pages/ directory's own listing.
navigation = st.navigation(pages)
enter_router()

project = open_project()

with st.sidebar:
    st.markdown("### asemic")
    st.caption(f"Project `{project.root.name}`  \n{project.root}")
    report = validation_report(str(project.root), config_version(project))
    if report.ok:
        st.markdown(f":green[:material/check_circle: Config valid] ({len(report.warnings)} warning(s))")
    else:
        st.markdown(f":red[:material/error: {len(report.errors)} config error(s)]")
    status = project.status()
    if status.watermark:
        st.markdown(f":material/database: Materialized through **{status.watermark}**")
        states = [c.state for c in status.columns]
        if status.stale:  # the words and counts of the Schema page
            counts = [f"{states.count(s)} {w}" for s, w in (("new", "added"), ("stale", "stale")) if states.count(s)]
            st.markdown(f":orange[:material/update: {' and '.join(counts)} column(s) to update]")
    else:
        st.markdown(":orange[:material/database: Not materialized yet]")
    git_line = git_summary(project.root)
    if git_line:
        st.markdown(git_line)
    running = [j for j in project.jobs(5) if j.status in ("queued", "running")]
    if running:
        job = running[0]
        fraction, _words = progress_line(project, job)
        st.markdown(f":material/sync: {job.status.capitalize()} **{job.kind}** ({fraction * 100:.0f}%)")
    st.caption(f"Updated {dt.datetime.now():%H:%M:%S}")

navigation.run()
