"""Browser tests: the studio served by Streamlit, driven by Playwright in Debian's Chromium.

Screenshots of every test land in ``test-artifacts/screenshots/`` (or
``$ASEMIC_TEST_ARTIFACTS/screenshots``, see ``studio_helpers``) and are kept there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import init_demo
from asemic_core.project import Project
from studio_helpers import ARTIFACTS, REPO
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout}s")


@pytest.fixture(scope="session")
def browser_project(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("browser") / "project"
    init_demo(root, DemoSpec(users=600, days=45, seed=3))
    project = Project(root)
    project.refresh(origin="test")
    return project


@contextlib.contextmanager
def serve_studio(root: Path):
    """A Streamlit server of the studio on ``root`` (its URL); stopped on exit."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(root / "streamlit.log", "wb")  # noqa: SIM115 - closed below
    env = dict(os.environ, ASEMIC_PROJECT=str(root), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def studio_url(browser_project) -> str:
    with serve_studio(browser_project.root) as url:
        yield url


@pytest.fixture(scope="module")
def writable_project(browser_project, tmp_path_factory) -> Project:
    """A copy of the demo project for the flows that write (config files, jobs): one per
    test module, so the shared session project stays as the other tests expect it."""
    root = tmp_path_factory.mktemp("writable") / "project"
    shutil.copytree(browser_project.root, root, ignore=shutil.ignore_patterns("streamlit.log"))
    return Project(root)


@pytest.fixture(scope="module")
def writable_url(writable_project) -> str:
    """The studio served on :func:`writable_project` (one server per test module)."""
    with serve_studio(writable_project.root) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()


