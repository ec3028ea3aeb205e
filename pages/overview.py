"""Overview: which project is open and whether its config is valid."""

from __future__ import annotations

import streamlit as st

from asemic_core.app_support import open_project, validation_report

project = open_project()
st.title("Overview")
st.caption(f"Project: `{project.root}`")

report = validation_report(str(project.root))
counts = st.columns(3)
files = project.files()
counts[0].metric("Events", len(files.events))
counts[1].metric("Properties", len(files.properties))
counts[2].metric("KPIs", len(files.kpis))

if report.ok:
    st.success(f"Config is valid ({len(report.warnings)} warning(s)); dry run: {report.dry_run}")
else:
    st.error(f"{len(report.errors)} error(s) in the config")
if report.issues:
    st.dataframe(
        [{"severity": i.severity.value, "where": i.location(), "object": i.object_id, "field": i.field,
          "message": i.message} for i in report.issues],
        hide_index=True, width="stretch",
    )
