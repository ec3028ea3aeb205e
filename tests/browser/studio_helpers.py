"""Helpers for the browser tests (importable: tests/browser is on sys.path)."""

from __future__ import annotations

import shutil
from pathlib import Path

from asemic_core.project import Project

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "screenshots"


def wait_for_app(tab) -> None:
    """Wait until Streamlit has rendered and finished running the script."""
    tab.wait_for_selector("[data-testid='stApp']")
    tab.wait_for_selector("h1", timeout=60_000)
    # While the script runs, the toolbar shows a status widget (with a Stop button).
    tab.wait_for_function(
        "() => { const w = document.querySelector('[data-testid=\"stStatusWidget\"]');"
        " return !w || !(w.innerText.includes('Running') || w.innerText.includes('Stop')); }",
        timeout=60_000,
    )
    tab.wait_for_timeout(300)


def shot(tab, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path


def copy_project(project: Project, target: Path) -> Project:
    shutil.copytree(project.root, target)
    return Project(target)
