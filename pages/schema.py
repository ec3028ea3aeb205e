"""Schema: the generated tables, what the next job changes, and coverage per column."""

from __future__ import annotations

import streamlit as st

from studio.session import open_project, show_error
from studio.views import coverage_chart, model_schema, update_plan
from asemic_core.errors import AsemicError

project = open_project()
status = project.status()

st.title("Schema")
st.caption("The physical model asemic generates from the config: its tables and columns, how they are "
           "stored, and how they compare with what is materialized.")

try:
    schema = model_schema(project)
except AsemicError as err:
    show_error(err)
    st.stop()

tables_tab, changes_tab, coverage_tab, storage_tab = st.tabs(["Tables", "Next job", "Coverage", "Storage"])

with tables_tab:
    show_hidden = st.toggle("Show hidden columns (inline sources)", value=False, key="schema_show_hidden")
    for table in schema.tables:
        st.subheader(f"{schema.schema}.{table.name}")
        st.caption(table.description)
        layout = [f"partitioned by `{table.partitioned_by}` (a directory per day, activity days' rows apart)" if table.partitioned_by
                  else "not partitioned", f"sorted by {', '.join(f'`{c}`' for c in table.sorted_by)}"]
        st.markdown(" · ".join(layout))
        columns = [c for c in table.columns if show_hidden or not c.hidden]
        st.dataframe(
            [{"column": c.name, "data type": c.data_type, "SQL type": c.sql_type, "kind": c.kind.replace("_", " "),
              "hidden": c.hidden, "description": c.description or ""} for c in columns],
            hide_index=True, width="stretch", column_config=None if show_hidden else {"hidden": None},
        )
        with st.expander(f"DDL of {table.name}", icon=":material/code:"):
            st.code(table.ddl, language="sql")
            if table.name in schema.views:
                st.code(schema.views[table.name] + ";", language="sql")

with changes_tab:
    by_state: dict[str, list[str]] = {}
    for column in status.columns:
        by_state.setdefault(column.state, []).append(column.name)
    if status.watermark is None:
        st.warning("Nothing is materialized yet: the first job is a refresh that builds every column.")
    counts = st.columns(3)
    counts[0].metric("Added columns", len(by_state.get("new", [])), help="In the config, never materialized")
    counts[1].metric("Stale columns", len(by_state.get("stale", [])), help="Definition changed since materialized")
    counts[2].metric("Removed columns", len(by_state.get("removed", [])),
                     help="Materialized, no longer in the config")
    for state, title in (("new", "Added"), ("stale", "Stale"), ("removed", "Removed")):
        if by_state.get(state):
            st.markdown(f"**{title}:** " + ", ".join(f"`{name}`" for name in by_state[state]))
    if not any(by_state.get(s) for s in ("new", "stale", "removed")) and status.watermark:
        st.success("The materialized columns match the config.", icon=":material/check_circle:")
    st.markdown("**Plan of the next update**")
    plan, why = update_plan(project, status)
    if plan:
        st.code(plan, language="text", wrap_lines=True)
    else:
        st.info(f"No update can be planned: {why}")

with coverage_tab:
    if status.watermark is None:
        st.info("No day is materialized yet.")
    else:
        st.caption(f"Days materialized per column of `daily` (the model holds {status.first_day} .. "
                   f"{status.watermark}). A bar shorter than the others is a column the next update completes.")
        order = [c.name for c in schema.table("daily").columns]
        st.altair_chart(coverage_chart(status, order), width="stretch")

with storage_tab:
    try:
        physical = project.physical_tables()
    except AsemicError as err:
        show_error(err)
        physical = []
    if not physical:
        st.info("No model version is published yet: the first refresh writes the Delta tables.")
    else:
        st.caption(f"The Delta tables of model version {physical[0].model_version} (the published one). The size "
                   "counts every file in the table's directory: the kept older versions and the Delta log too. A "
                   "column table holds newer values of the daily columns it lists, on the activity rows (a partial "
                   "update wrote them; compacting on the Jobs page folds them in).")
        st.dataframe(
            [{"table": t.name, "Delta version": t.delta_version, "model version": t.model_version, "files": t.files,
              "rows": t.rows, "size (bytes)": t.size_bytes, "size": f"{t.size_bytes / 1e6:,.2f} MB",
              "partitioned by": t.partitioned_by or "not partitioned",
              "holds": ", ".join(t.holds) if t.holds else "", "location": t.location} for t in physical],
            hide_index=True, width="stretch",
        )
