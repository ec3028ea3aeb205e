"""What the Streamlit pages share: the open project, cached readers, error display.

Pages stay thin: gather inputs, call one facade verb, render. Caches are keyed on plain
values (the project root and a hash of the config files), so an edit on disk is seen at
the next rerun.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from asemic_core.errors import AsemicError, ConfigError
from asemic_core.issues import Issue
from asemic_core.project import Project, ValidationReport

DEFAULT_DEMO_DIR = "demo-project"


@st.cache_resource(show_spinner="Creating the demo project (first start)...")
def _ensure_project(root: str) -> str:
    path = Path(root)
    if not (path / "asemic.yml").exists():
        from asemic_core.demo.project import init_demo

        init_demo(path)
        Project(path).refresh(origin="app")
    return str(path.resolve())


ROUTER_FLAG = "_asemic_router"
START_PAGE = "_asemic_start_page"


def enter_router() -> None:
    """Called by app.py: pages run inside the router from now on (see ``open_project``)."""
    st.session_state[ROUTER_FLAG] = True
    start = st.session_state.pop(START_PAGE, None)
    if start:
        page, query = start
        st.switch_page(page, query_params=query or None)  # ?property=... selects what the page opens


def open_project() -> Project:
    """The project in $ASEMIC_PROJECT, else the demo project (created and materialized on first start).

    A page opened by its URL before any session ran the router (Streamlit then runs the
    page file alone, without app.py's navigation and sidebar) is sent through the router.
    """
    if not st.session_state.get(ROUTER_FLAG):
        page = _calling_page()
        if page is not None:
            st.session_state[START_PAGE] = (page, {k: st.query_params.get_all(k) for k in st.query_params})
            st.switch_page("app.py")
    root = os.environ.get("ASEMIC_PROJECT") or DEFAULT_DEMO_DIR
    return Project(_ensure_project(root))


def _calling_page() -> str | None:
    import inspect

    for frame in inspect.stack()[1:]:
        path = Path(frame.filename)
        if path.parent.name == "pages" and path.suffix == ".py":
            return f"pages/{path.name}"
    return None


def config_version(project: Project) -> str:
    """Changes whenever a config file changes (cache key)."""
    from asemic_core.jobs.service import config_hash

    return config_hash(project)


@st.cache_data(show_spinner=False, max_entries=8)
def validation_report(root: str, version: str) -> ValidationReport:
    return Project(root).validate()


@st.cache_resource(show_spinner=False, max_entries=4)
def model_source(root: str, version: str):
    """A reader of the model for one config version (connections are reused)."""
    return Project(root).source()


def source_for(project: Project):
    return model_source(str(project.root), config_version(project))


def show_error(err: Exception) -> None:
    """A user mistake as a message (with its issues), never a traceback."""
    if isinstance(err, ConfigError):
        st.error(err.message)
        show_issues(err.issues)
    elif isinstance(err, AsemicError):
        st.error(err.message)
    else:  # pragma: no cover - bugs keep their traceback
        raise err


def show_issues(issues: list[Issue]) -> None:
    if not issues:
        return
    st.dataframe(
        [{"severity": i.severity.value, "where": i.location(), "object": i.object_id, "field": i.field,
          "message": i.message} for i in issues],
        hide_index=True, width="stretch",
    )


def field_errors(issues: list[Issue], object_id: str) -> dict[str, list[str]]:
    """Issue messages of one object by field path, for showing next to form fields."""
    out: dict[str, list[str]] = {}
    for issue in issues:
        if issue.object_id == object_id and issue.is_error:
            out.setdefault(issue.field or "", []).append(issue.message)
    return out


def errors_for(errors: dict[str, list[str]], *prefixes: str) -> list[str]:
    found = []
    for field, messages in errors.items():
        if any(field == p or field.startswith(p + ".") for p in prefixes):
            found += messages
    return found


def render_field_errors(errors: dict[str, list[str]], *prefixes: str) -> None:
    for message in errors_for(errors, *prefixes):
        st.error(message, icon=":material/error:")
