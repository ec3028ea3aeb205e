"""Fixtures for the studio's AppTest tests: a small, materialized demo project per test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import init_demo
from asemic_core.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))  # studio_tree: the editors' helpers

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="session")
def studio_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("studio") / "project"
    init_demo(root, DemoSpec(users=300, days=30, seed=11))
    Project(root).refresh(origin="test")
    return root


@pytest.fixture
def studio_project(studio_template, tmp_path, monkeypatch) -> Project:
    root = tmp_path / "project"
    shutil.copytree(studio_template, root)
    monkeypatch.setenv("ASEMIC_PROJECT", str(root))
    return Project(root)


@pytest.fixture
def app(studio_project) -> AppTest:
    """The studio, not yet run; call ``app.switch_page("pages/x.py").run()``."""
    return AppTest.from_file(APP, default_timeout=60)


def opened(app: AppTest, page: str) -> AppTest:
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def properties_page(app) -> AppTest:
    """The studio run on the Properties page."""
    return opened(app, "pages/properties.py")


@pytest.fixture
def kpis_page(app) -> AppTest:
    """The studio run on the KPIs page."""
    return opened(app, "pages/kpis.py")
