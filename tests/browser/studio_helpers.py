"""Helpers for the browser tests (importable: tests/browser is on sys.path).

Screenshots go to ``$ASEMIC_TEST_ARTIFACTS/screenshots`` when that variable is set, else to
``test-artifacts/screenshots/`` at the top of the checkout (ignored by git); they are kept
after the run, one PNG per name (a later run overwrites it).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from asemic_core.project import Project

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ASEMIC_TEST_ARTIFACTS") or REPO / "test-artifacts") / "screenshots"

# True once the page has drawn what it shows: no script run under way (Streamlit's running
# icon, spinners, skeletons, elements left stale by the last run), and every visible chart,
# graph and table has its marks (a Vega chart its canvas or svg, a dataframe its canvas).
# Elements in hidden tabs or closed expanders are passed over.
DRAWN = """() => {
  const shown = el => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.checkVisibility({visibilityProperty: true})
      && !el.closest("details:not([open])"); };
  const any = selector => [...document.querySelectorAll(selector)].some(shown);
  if (document.querySelector("[data-testid='stStatusWidgetRunningIcon'], "
                             + "[data-testid='stStatusWidgetRunningManIcon']")) return false;
  if (any("[data-testid='stSpinner'], [data-testid='stSkeleton'], [data-stale='true']")) return false;
  const drawn = (selector, inner) => [...document.querySelectorAll(selector)].filter(shown)
    .every(el => [...el.querySelectorAll(inner)].some(shown));
  return drawn("[data-testid='stVegaLiteChart']", "canvas, svg")
    && drawn("[data-testid='stGraphVizChart']", "svg")
    && drawn("[data-testid='stDataFrame']", "canvas");
}"""


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


def wait_until_drawn(tab, last=None, timeout: float = 60_000) -> None:
    """Wait until the script has finished, ``last`` (a locator of the page's last expected
    element) is visible, and every visible chart and table has drawn its marks; twice, a
    moment apart, so that a rerun started by a widget's first value is waited for too."""
    wait_for_app(tab)
    for _ in range(2):
        if last is not None:
            last.last.wait_for(state="visible", timeout=timeout)
        tab.wait_for_function(DRAWN, timeout=timeout)
        tab.wait_for_timeout(500)


# Streamlit scrolls inside its main section, so a "full page" screenshot of the window holds
# only what fits in it: the window is made as tall as the content first (up to a limit).
CONTENT_HEIGHT = """() => {
  const scrollers = [...document.querySelectorAll("[data-testid='stMain'], [data-testid='stAppViewContainer'], "
    + "[data-testid='stSidebarContent']"), document.scrollingElement].filter(Boolean);
  scrollers.forEach(el => { el.scrollTop = 0; });
  const block = document.querySelector("[data-testid='stMainBlockContainer']");
  const bottom = block ? block.getBoundingClientRect().bottom : 0;
  return Math.ceil(Math.max(bottom, ...scrollers.map(el => el.scrollHeight)));
}"""
MAX_HEIGHT = 8000


def settled_height(tab, tries: int = 20) -> int:
    """The content's height once the page is drawn and has stopped growing (a rerun that
    follows a click may leave a moment with no running icon while it draws the rest)."""
    height = -1
    for _ in range(tries):
        tab.wait_for_function(DRAWN, timeout=30_000)
        now = min(int(tab.evaluate(CONTENT_HEIGHT)), MAX_HEIGHT)
        if now == height:
            return height
        height = now
        tab.wait_for_timeout(400)
    return height


def shot(tab, name: str) -> Path:
    """A screenshot of the whole page once it is drawn (the window stretched to the content's
    height, then given back its size), kept under :data:`ARTIFACTS` as ``<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = settled_height(tab)
    size = tab.viewport_size
    if size and height > size["height"]:
        tab.set_viewport_size({"width": size["width"], "height": height})
        tab.wait_for_function(DRAWN, timeout=30_000)  # charts redraw at the new size
        tab.wait_for_timeout(300)
    try:
        tab.screenshot(path=str(path), full_page=True)
    finally:
        if size and height > size["height"]:
            tab.set_viewport_size(size)
    return path


def no_exception(page) -> None:
    errors = page.locator("[data-testid='stException']")
    assert errors.count() == 0, errors.first.inner_text()


def button(scope, name: str):
    """The button named ``name`` (its accessible name may start with an icon and end with
    "Shortcut Ctrl + Enter")."""
    return scope.get_by_role("button", name=re.compile(rf"^(\S+\s+)?{re.escape(name)}(\s+Shortcut\b.*)?$"))


def choose(page, scope, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (inside ``scope``)."""
    box = scope.get_by_label(label, exact=True)
    box.click()
    box.press_sequentially(option)  # the list is virtualized: filter it first
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def type_in(page, scope, label: str, text: str) -> None:
    """Type into a text input and commit it with Enter."""
    box = scope.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")
    wait_for_app(page)


def open_new(page, url: str, path: str, popover: str, object_id: str, kind: str | None = None) -> None:
    """Open the editor of a new object: the page at ``path``, its "New ..." popover
    (``popover``), the id (and the kind), then Create."""
    page.goto(f"{url}/{path}")
    wait_for_app(page)
    button(page, popover).click()
    body = page.get_by_test_id("stPopoverBody")
    body.get_by_label("Id", exact=True).fill(object_id)
    if kind is not None:
        choose(page, body, "Kind", kind)
    button(body, "Create").click()
    wait_for_app(page)


def new_kpi(page, url: str, kpi_id: str, select: str) -> None:
    """Open the editor of a new KPI ``kpi_id`` and write its select (sent when it loses focus)."""
    open_new(page, url, "kpis", "New KPI", kpi_id)
    box = page.get_by_label("Select", exact=True)
    box.fill(select)
    box.blur()
    wait_for_app(page)


def saved_object(root, collection: str, object_id: str, timeout: float = 30):
    """The object as written on disk, once the save has reached the file."""
    deadline = time.monotonic() + timeout
    while True:
        found = getattr(Project(root).files(), collection).get(object_id)
        if found is not None or time.monotonic() > deadline:
            assert found is not None, f"{object_id} was not written to userentity/{collection}/ within {timeout}s"
            return found
        time.sleep(0.5)


def copy_project(project: Project, target: Path) -> Project:
    shutil.copytree(project.root, target)
    return Project(target)
