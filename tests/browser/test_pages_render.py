"""Every page of the studio opens in a real browser without an exception."""

from __future__ import annotations

import pytest
from studio_helpers import shot, wait_for_app

PAGES = ["", "events", "properties", "kpis", "schema", "explore", "jobs", "git", "export"]


@pytest.mark.browser
@pytest.mark.parametrize("path", PAGES, ids=[p or "overview" for p in PAGES])
def test_page_renders(page, studio_url, path) -> None:
    page.goto(f"{studio_url}/{path}")
    wait_for_app(page)
    assert page.locator("[data-testid='stException']").count() == 0, page.locator("[data-testid='stException']").first.inner_text()
    assert page.locator("h1").count() >= 1
    shot(page, f"page-{path or 'overview'}")
