"""The model versions on the Jobs page: the published versions, restore, vacuum and compaction."""

from __future__ import annotations

import streamlit as st

from asemic_core.jobs.requests import duration_text, when
from asemic_core.project import Project

RESTORE_PICK, RESTORE_CONFIRM = "versions_restore_pick", "versions_restore_confirm"


def version_rows(history) -> list[dict]:
    """One row per published version, newest first; the published one is marked current."""
    current = history[0].version if history else None
    rows = []
    for v in history:
        days = f"{v.day_from} .. {v.day_to}" if v.day_from else ""
        kind = f"restore of {v.restored_from}" if v.kind == "restore" and v.restored_from else v.kind
        rows.append({"version": v.version, "current": v.version == current, "kind": kind, "range": days,
                     "columns": len(v.written), "rows": v.rows, "duration": duration_text(v.seconds),
                     "when": when(v.created_at), "restorable": not v.vacuumed})
    return rows


def versions_section(project: Project, busy: bool) -> tuple[str, dict, str] | None:
    """Draw the section; the job to launch (kind, args, words) once the user confirmed one."""
    st.markdown("#### Model versions")
    history = project.history()
    if not history:
        st.info("No model version is published yet: run a refresh first.")
        return None
    st.caption("Every job publishes a new model version; readers see one version whole. Older versions stay "
               "restorable until a vacuum removes their files.")
    st.dataframe(version_rows(history), hide_index=True, width="stretch",
                 column_config={"current": st.column_config.CheckboxColumn("current"),
                                "rows": st.column_config.NumberColumn("rows", format="localized")})
    choices = [v.version for v in history[1:] if not v.vacuumed]
    launch = None
    restore_col, vacuum_col = st.columns(2)
    with restore_col:
        if not choices:
            st.caption("No older restorable version.")
        else:
            number = st.selectbox("Version to restore", choices, key=RESTORE_PICK)
            if st.button("Restore this version", icon=":material/restore:", key="versions_restore_btn",
                         disabled=busy):
                st.session_state[RESTORE_CONFIRM] = number
            if st.session_state.get(RESTORE_CONFIRM) == number:
                st.warning(f"Publish version {number} again as version {history[0].version + 1}? Readers then see "
                           f"the model as it was in version {number}. The restore is itself a new version: restore "
                           f"version {history[0].version} to undo it.", icon=":material/warning:")
                yes, no = st.columns(2)
                if yes.button("Confirm restore", type="primary", key="versions_restore_confirm_btn"):
                    st.session_state.pop(RESTORE_CONFIRM, None)
                    launch = ("restore", {"version": number}, f"restore of version {number}")
                if no.button("Cancel", key="versions_restore_cancel_btn"):
                    st.session_state.pop(RESTORE_CONFIRM, None)
                    st.rerun()
    with vacuum_col:
        keep = st.number_input("Keep days", min_value=0.0, value=7.0, step=1.0, format="%g", key="versions_keep_days",
                               help="Versions newer than this stay restorable; the published one always stays.")
        st.caption(f"Vacuum deletes the files of the versions older than {keep:g} days; they can no longer be "
                   "restored.")
        if st.button("Vacuum", icon=":material/delete_sweep:", key="versions_vacuum_btn", disabled=busy):
            launch = ("vacuum", {"keep_days": float(keep)}, f"vacuum (keep {keep:g} days)")
    tables = project.column_tables()
    if tables:
        columns = sorted({c for held in tables.values() for c in held})
        st.info(f"{len(tables)} column table(s) from partial updates hold {', '.join(f'`{c}`' for c in columns)}: "
                "charts that read them join them to the daily table, which is slower. Compacting folds them into the "
                "daily table (no value changes); the scheduler does it after its next update.",
                icon=":material/join:")
        if st.button("Compact the model", icon=":material/compress:", key="versions_compact_btn", disabled=busy):
            launch = ("compact", {}, "compaction")
    return launch
