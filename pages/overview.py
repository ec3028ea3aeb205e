"""Overview: health of the config and the model."""

from __future__ import annotations

import streamlit as st

from asemic_core.app_support import config_version, open_project, show_issues, validation_report

project = open_project()
st.title("Overview")
report = validation_report(str(project.root), config_version(project))
files = project.files()
counts = st.columns(3)
counts[0].metric("Events", len(files.events))
counts[1].metric("Properties", len(files.properties))
counts[2].metric("KPIs", len(files.kpis))
if report.ok:
    st.success(f"Config is valid ({len(report.warnings)} warning(s)); dry run: {report.dry_run}")
else:
    st.error(f"{len(report.errors)} error(s) in the config")
show_issues(report.issues)
