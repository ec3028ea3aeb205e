"""Export: the config files, what changed since the last export and since git HEAD,
zip download and zip import."""

from __future__ import annotations

import streamlit as st

from studio.session import open_project, show_error, show_issues
from studio.views import export_bytes, git_baseline, import_bytes, when
from asemic_core.config.diff import compare, current_texts, snapshot_dir, snapshot_texts, snapshot_time, \
    write_snapshot
from asemic_core.errors import AsemicError

STATUS_LABELS = {"added": "added", "removed": "deleted", "modified": "changed", "unchanged": ""}

project = open_project()
model_dir = project.model_dir()


def take_snapshot() -> None:
    write_snapshot(project.root, model_dir)
    st.session_state["export_snapshot_taken"] = True


def run_import(name: str, data: bytes) -> None:
    try:
        warnings = import_bytes(project, name, data)
    except AsemicError as err:
        st.session_state["export_import_result"] = ("failed", name, err)
        return
    write_snapshot(project.root, model_dir)
    st.session_state["export_import_result"] = ("imported", name, warnings)


st.title("Export")
st.caption("The config files as YAML, what changed in them, and archives to move a config between "
           "projects or machines.")

download, upload = st.columns(2, gap="large")
with download:
    st.subheader("Download")
    current = current_texts(project.root)
    st.download_button("Download config (.zip)", data=export_bytes(project), file_name=f"{project.root.name}-config.zip",
                       mime="application/zip", icon=":material/download:", type="primary", on_click=take_snapshot,
                       key="export_download")
    st.caption(f"`asemic.yml` and `userentity/`: {len(current)} file(s). The warehouse and the generated model "
               "are not included.")
    if st.session_state.pop("export_snapshot_taken", False):
        st.success("Exported. The files as downloaded are now the last saved state.", icon=":material/check_circle:")

with upload:
    st.subheader("Import")
    uploaded = st.file_uploader("Config archive (.zip)", type=["zip"], key="export_upload",
                                help="An archive made by Download or `asemic-cli config export`.")
    st.button("Validate and import", key="export_import", icon=":material/upload:", disabled=uploaded is None,
              on_click=run_import, args=(uploaded.name, uploaded.getvalue()) if uploaded is not None else ("", b""))
    st.caption("The archive replaces `asemic.yml` and `userentity/`, only if its config is valid; otherwise "
               "nothing changes.")
    if (result := st.session_state.pop("export_import_result", None)) is not None:
        outcome, name, detail = result
        if outcome == "imported":
            st.success(f"Imported {name}.", icon=":material/check_circle:")
            show_issues(detail)
        else:
            show_error(detail)

st.subheader("Files")
saved = snapshot_texts(model_dir)
saved_at = snapshot_time(model_dir)
head = git_baseline(project)
st.caption(f"**Last saved state** is the config as of the last export (download) or import on this page, kept in "
           f"`{snapshot_dir(model_dir)}`" + (f" (taken {when(saved_at)})." if saved_at else ": none yet."))
since_saved = {d.path: d for d in compare(saved, current)} if saved is not None else {}
since_head = {d.path: d for d in compare(head, current, "HEAD")} if head is not None else {}
paths = sorted(set(current) | set(since_saved) | set(since_head))
st.dataframe(
    [{"file": path, "lines": current[path].count("\n") if path in current else 0,
      "since last export": STATUS_LABELS[since_saved[path].status] if path in since_saved else "",
      "since git HEAD": STATUS_LABELS[since_head[path].status] if path in since_head else ""}
     for path in paths],
    hide_index=True, width="stretch",
    column_config=None if head is not None else {"since git HEAD": None},
)

changed = [p for p in paths if any(p in diffs and diffs[p].status != "unchanged" for diffs in (since_saved, since_head))]
path = st.selectbox("File", paths, index=paths.index(changed[0]) if changed else 0, key="export_file")
yaml_tab, saved_tab, head_tab = st.tabs(["YAML", "Diff against last saved state", "Diff against git HEAD"])
with yaml_tab:
    if path in current:
        st.code(current[path], language="yaml", line_numbers=True)
    else:
        st.info(f"{path} has been deleted.")
with saved_tab:
    if saved is None:
        st.info("No saved state yet: download the config (or import an archive) to record one.")
    elif since_saved[path].status == "unchanged":
        st.success(f"{path} is unchanged since the last export.", icon=":material/check_circle:")
    else:
        st.code(since_saved[path].diff, language="diff")
with head_tab:
    if head is None:
        st.info("The project is not in a git repository (or it has no commit yet).")
    elif since_head[path].status == "unchanged":
        st.success(f"{path} is unchanged since git HEAD.", icon=":material/check_circle:")
    else:
        st.code(since_head[path].diff, language="diff")
