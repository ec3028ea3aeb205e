"""Explore in a real browser: partial weeks and immature cohort days are marked on the chart,
a group-by property that changes over time is warned about, and the SQL names catalog views."""

from __future__ import annotations

import re

import pytest
from studio_helpers import ARTIFACTS, no_exception, shot, wait_for_app

CHART = "[data-testid='stVegaLiteChart']"


def choose(page, label: str, option: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.click()
    box.press_sequentially(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


@pytest.mark.browser
def test_weekly_points_group_warning_and_sql(page, studio_url) -> None:
    page.goto(f"{studio_url}/explore")
    wait_for_app(page)
    choose(page, "Grain", "week")
    no_exception(page)
    page.get_by_text(re.compile(r"Hollow points are incomplete weeks")).first.wait_for()
    page.locator(f"{CHART} canvas, {CHART} svg").first.wait_for()
    choose(page, "Group by", "activity_segment")
    page.get_by_text(re.compile(r"changes within the range")).first.wait_for()
    page.get_by_text("Show SQL", exact=True).click()
    wait_for_app(page)
    sql = page.locator("[data-testid='stCode']").first.inner_text()
    assert '"asemic_model"."daily"' in sql and "parquet" not in sql.lower()
    no_exception(page)
    shot(page, "explore-week-grouped-sql")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(CHART).first.screenshot(
        path=str(ARTIFACTS / "explore-week-chart.png"))
    page.locator("[data-testid='stCode']").first.screenshot(path=str(ARTIFACTS / "explore-sql.png"))


@pytest.mark.browser
def test_cohort_days_marked(page, studio_url) -> None:
    page.goto(f"{studio_url}/explore")
    wait_for_app(page)
    box = page.get_by_label("KPIs", exact=True)
    box.click()
    box.press_sequentially("Retention (retention)")
    page.get_by_role("option", name="Retention (retention)", exact=True).click()
    wait_for_app(page)
    page.keyboard.press("Escape")
    page.get_by_text("Cohort day", exact=True).click()
    wait_for_app(page)
    no_exception(page)
    page.get_by_text(re.compile(r"Hollow points are immature cohort days")).first.wait_for()
    shot(page, "explore-cohort-immature")
    page.locator(CHART).first.screenshot(
        path=str(ARTIFACTS / "explore-cohort-chart.png"))
