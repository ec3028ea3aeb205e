"""Every page of the studio opens in a real browser, draws all it shows, and shows no error.

Each page is photographed once it has finished rendering: Streamlit's script run is over,
its last expected element (below) is visible, and every visible chart, graph and table has
drawn its marks (``studio_helpers.wait_until_drawn``). The screenshots are kept as test
artifacts in ``test-artifacts/screenshots/page-<name>.png`` at the top of the checkout, or
in ``$ASEMIC_TEST_ARTIFACTS/screenshots/`` when that variable is set.
"""

from __future__ import annotations

import pytest
from studio_helpers import no_exception, shot, wait_until_drawn

# The last element each page draws on the demo project (a refreshed model, no git repository).
LAST = {
    "": lambda page: page.get_by_test_id("stGraphVizChart").locator("svg"),
    "events": lambda page: page.get_by_test_id("stDataFrame"),
    "properties": lambda page: page.get_by_text("Built-in properties ("),
    "kpis": lambda page: page.get_by_text("Click a row to open the KPI."),
    "schema": lambda page: page.get_by_text("DDL of users"),
    "explore": lambda page: page.get_by_test_id("stVegaLiteChart"),
    "jobs": lambda page: page.get_by_test_id("stDataFrame").filter(has=page.locator("canvas")),
    "git": lambda page: page.get_by_text("Creates the repository in the project directory"),
    "export": lambda page: page.get_by_test_id("stCode"),
    # the editors, opened from the URL: the form next to the preview of the saved definition
    "events?event=purchase": lambda page: page.get_by_test_id("stDataFrame").filter(has=page.locator("canvas")),
    "properties?property=lifetime_revenue": lambda page: page.get_by_text("Day by day for a few users"),
    "kpis?kpi=arpdau": lambda page: page.get_by_test_id("stExpander").filter(has_text="Points"),
}


def name(path: str) -> str:
    return path.replace("?", "-").replace("=", "-") or "overview"


@pytest.mark.browser
@pytest.mark.parametrize("path", list(LAST), ids=[name(p) for p in LAST])
def test_page_renders(page, studio_url, path) -> None:
    page.goto(f"{studio_url}/{path}")
    wait_until_drawn(page, LAST[path](page))
    no_exception(page)
    errors = page.get_by_test_id("stAlertContentError")
    assert errors.count() == 0, errors.first.inner_text()
    assert page.locator("h1").count() >= 1
    shot(page, f"page-{name(path)}")
