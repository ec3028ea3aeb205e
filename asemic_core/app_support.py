"""Small helpers shared by the Streamlit pages (no page logic, no Streamlit import
at module level beyond what caching needs)."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from asemic_core.project import Project, ValidationReport

DEFAULT_DEMO_DIR = "demo-project"


@st.cache_resource(show_spinner="Creating the demo project...")
def _ensure_project(root: str) -> str:
    path = Path(root)
    if not (path / "asemic.yml").exists():
        from asemic_core.demo.project import init_demo

        init_demo(path)
    return str(path.resolve())


def open_project() -> Project:
    """The project in $ASEMIC_PROJECT, else the demo project (created on first start)."""
    root = os.environ.get("ASEMIC_PROJECT") or DEFAULT_DEMO_DIR
    return Project(_ensure_project(root))


def validation_report(root: str) -> ValidationReport:
    return Project(root).validate()
