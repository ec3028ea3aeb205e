from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import init_demo
from asemic_core.project import Project


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """A small demo project, refreshed once; tests copy it."""
    root = tmp_path_factory.mktemp("demo") / "project"
    init_demo(root, DemoSpec(users=300, days=30, seed=7))
    Project(root).refresh(origin="test")
    return root


@pytest.fixture
def demo(demo_template, tmp_path) -> Project:
    root = tmp_path / "project"
    shutil.copytree(demo_template, root)
    return Project(root)


@pytest.fixture(scope="module")
def studio_source(demo_template):
    """A reader of the (unchanged) demo template with its materialized day range."""
    import datetime as dt

    project = Project(demo_template)
    status = project.status()
    source = project.source()
    yield source, dt.date.fromisoformat(status.first_day), dt.date.fromisoformat(status.watermark)
    source.close()
