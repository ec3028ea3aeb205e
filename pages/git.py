"""Git: the changed files against HEAD with their diffs, commit, branches; the config is
read again after a checkout."""

from __future__ import annotations

import streamlit as st

from studio.session import config_version, open_project, show_error, validation_report
from asemic_core.git_repo import GitError, GitRepo

STATUS_ICONS = {"added": ":green[added]", "untracked": ":green[new]", "modified": ":orange[changed]",
                "deleted": ":red[deleted]", "renamed": ":blue[renamed]", "copied": ":blue[copied]",
                "conflict": ":red[conflict]"}
RESULT = "git_result"
MAX_DIFFS = 40  # one git call each

project = open_project()
repo = GitRepo(project.root)


def act(verb: str, *args) -> None:
    """Run one repository verb from a button callback; keep its outcome for the rerun."""
    try:
        if verb == "init":
            repo.init()
            done = "Initialized a git repository here, with a .gitignore for the model and the warehouse."
        elif verb == "commit":
            message = st.session_state.get("git_message", "")
            identity = (st.session_state.get("git_author_name", ""), st.session_state.get("git_author_email", ""))
            if repo.identity() is None:
                repo.set_identity(*identity)
            commit = repo.commit(message)
            st.session_state["git_message"] = ""
            done = f"Committed `{commit.short}`: {commit.subject}"
        elif verb == "switch":
            repo.switch(st.session_state["git_branch"])
            done = f"Switched to branch `{repo.branch()}`."
        else:
            repo.create_branch(st.session_state.get("git_new_branch", ""))
            st.session_state["git_new_branch"] = ""
            st.session_state["git_branch"] = repo.branch()
            done = f"Created branch `{repo.branch()}` and switched to it."
    except GitError as err:
        st.session_state[RESULT] = ("error", err)
        return
    st.session_state[RESULT] = ("done", done, verb in ("switch", "create"))


def show_result() -> None:
    if (result := st.session_state.pop(RESULT, None)) is None:
        return
    if result[0] == "error":
        show_error(result[1])
        return
    _, message, checked_out = result
    st.success(message, icon=":material/check_circle:")
    if checked_out:
        # The caches are keyed on the files' contents: reading the config again is enough.
        report = validation_report(str(project.root), config_version(project))
        status = project.status()
        state = "valid" if report.ok else f"{len(report.errors)} error(s)"
        stale = f"; {len(status.stale)} column(s) differ from the model (update them from the Jobs page)" \
            if status.stale else ""
        st.info(f"Config reloaded from the checked-out files: {state}{stale}.", icon=":material/sync:")


st.title("Git")
st.caption("Version the config: see what changed since the last commit, commit it with a message, and work "
           "on branches. Only files under the project directory are shown and committed.")

if not GitRepo.available():
    st.error("git is not installed on this machine: install it to version the config from the studio.")
    st.stop()

show_result()

if not repo.is_repo():
    st.info(f"`{project.root}` is not in a git repository yet.", icon=":material/info:")
    st.button("Initialize a git repository (git init)", key="git_init", type="primary", icon=":material/add:",
              on_click=act, args=("init",))
    st.caption("Creates the repository in the project directory, with a `.gitignore` that keeps the generated "
               "model (`.asemic/`), DuckDB files and logs out of it.")
    st.stop()

branch = repo.branch()
head = repo.log(1)
left, right = st.columns([3, 2], gap="large")
left.markdown(f":material/account_tree: Branch **{branch or 'detached HEAD'}**"
              + (f" at `{head[0].short}` {head[0].subject}" if head else " (no commit yet)"))

changes = repo.changes()
with left:
    st.subheader(f"Changes against HEAD ({len(changes)})")
    if not changes:
        st.success("Nothing to commit: every file matches HEAD.", icon=":material/check_circle:")
    else:
        for index, change in enumerate(changes):
            with st.expander(f"{STATUS_ICONS.get(change.status, change.status)}  `{change.label}`",
                             expanded=len(changes) <= 3):
                if index >= MAX_DIFFS:
                    st.caption(f"Diff not shown: the page shows the diffs of the first {MAX_DIFFS} files.")
                    continue
                diff = repo.diff(change)
                if diff:
                    st.code(diff, language="diff")
                else:
                    st.caption("No text difference (binary file or mode change).")

with right:
    st.subheader("Commit")
    with st.form("git_commit_form", border=True):
        st.text_area("Commit message", key="git_message", height=100,
                     placeholder="Add ARPDAU by country\n\nWhy it changed ...")
        if repo.identity() is None:
            st.caption("git does not know who you are yet: the author is saved in this repository's config.")
            st.text_input("Author name", key="git_author_name")
            st.text_input("Author email", key="git_author_email")
        st.form_submit_button("Commit", type="primary", icon=":material/commit:", disabled=not changes,
                              on_click=act, args=("commit",))
    st.caption(f"Stages and commits all {len(changes)} changed file(s) listed here.")

    st.subheader("Branches")
    names = repo.branches()
    if branch in names:
        st.session_state.setdefault("git_branch", branch)
    if st.session_state.get("git_branch") not in names:
        st.session_state["git_branch"] = branch if branch in names else (names[0] if names else None)
    st.selectbox("Branch", names, key="git_branch", help="Checking out a branch replaces the config files with "
                 "that branch's; git refuses if it would overwrite uncommitted changes.")
    st.button("Switch to this branch", key="git_switch", icon=":material/swap_horiz:",
              disabled=not names or st.session_state.get("git_branch") == branch, on_click=act, args=("switch",))
    st.text_input("New branch", key="git_new_branch", placeholder="feature/arpdau")
    st.button("Create and switch", key="git_create", icon=":material/add:", on_click=act, args=("create",))

st.subheader("Recent commits")
commits = repo.log(15)
if commits:
    st.dataframe([{"commit": c.short, "date": c.date.replace("T", " ")[:19], "author": c.author,
                   "message": c.subject} for c in commits], hide_index=True, width="stretch")
else:
    st.caption("No commit yet.")
