"""The editors in a real browser: Save waits for what the dry run knows, a new property's
type follows its definition, drafts survive a reload, the URL names what is edited, and
the Events page previews the rows a table reads.

The flows write, so they run on ``writable_project`` (this module's own copy and server).
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect
from studio_helpers import (button, choose, new_kpi, no_exception, open_new, saved_object, shot, type_in,
                            wait_for_app)

from asemic_core.editing.draft_store import load_draft


def expect_id(page, value: str) -> None:
    """The editor shows the object ``value`` (once the run that opens it is done)."""
    shown = page.get_by_label("Id", exact=True)
    expect(shown.and_(page.locator(f"[value='{value}']"))).to_have_count(1, timeout=60_000)
    wait_for_app(page)
    expect(shown).to_have_count(1, timeout=30_000)
    expect(shown).to_have_value(value)


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


@pytest.mark.browser
def test_a_kpi_that_does_not_compile_cannot_be_saved(page, writable_url, writable_project) -> None:
    new_kpi(page, writable_url, "country_total", "SUM({property.country})")
    error = page.get_by_test_id("stAlertContentError").filter(has_text="sum(VARCHAR)")
    error.first.wait_for(timeout=60_000)
    no_exception(page)
    assert "does not compile against the warehouse: SUM does not take STRING values" in error.first.inner_text()
    expect(button(page, "Save")).to_be_disabled(timeout=30_000)
    page.get_by_text("Fix the errors in the form to see a preview.").wait_for()
    shot(page, "editor-kpi-broken")
    assert "country_total" not in writable_project.files().kpis
    # leaving the broken draft asks first; discarding it forgets it
    button(page, "All KPIs").click()
    wait_for_app(page)
    button(page, "Discard changes").click()
    wait_for_app(page)
    page.get_by_placeholder("Id, label, formula or description").wait_for()
    assert load_draft(writable_project.root, "kpi") is None


@pytest.mark.browser
def test_a_decimal_lifetime_sum_previews_fractions_and_saves_as_number(page, writable_url, writable_project) -> None:
    open_new(page, writable_url, "properties", "New property", "ad_revenue_lifetime", "Lifetime")
    page.get_by_text("Inline event property", exact=True).click()
    wait_for_app(page)
    choose(page, page, "Source event", "ad_view")
    choose(page, page, "Aggregate function", "sum")
    type_in(page, page, "Select", "{revenue_usd}")
    summary = page.get_by_text(re.compile(r"Values from [\d.,]+ to"))
    summary.first.wait_for(timeout=60_000)
    wait_for_app(page)
    no_exception(page)
    page.get_by_text("The definition produces NUMBER (the type is inferred from it).").wait_for()
    low, high, filled = re.search(r"Values from ([\d.,]+) to ([\d.,]+); ([\d,]+) of",
                                 summary.first.inner_text()).groups()
    assert float(high.replace(",", "")) > 0 and "." in high  # fractions of a dollar, not truncated to 0
    assert int(filled.replace(",", "")) > 0
    shot(page, "editor-lifetime-decimal-preview")
    button(page, "Save").click()
    wait_for_app(page)
    located = saved_object(writable_project.root, "properties", "ad_revenue_lifetime")
    assert located.model.data_type.value == "NUMBER"
    assert located.model.lifetime_property.source_event_property.select == "{revenue_usd}"


@pytest.mark.browser
def test_the_url_selects_the_object_and_follows_the_editor(page, writable_url) -> None:
    page.goto(f"{writable_url}/kpis?kpi=dau")
    wait_for_app(page)
    page.get_by_label("Select", exact=True).wait_for(timeout=60_000)
    wait_for_app(page)
    expect_id(page, "dau")
    assert query(page) == {"kpi": ["dau"]}
    jump = page.get_by_label("Open another KPI", exact=True)
    jump.click()
    jump.press_sequentially("arpdau")
    page.get_by_role("option", name="arpdau", exact=True).click()
    wait_for_app(page)
    expect_id(page, "arpdau")
    expect(page).to_have_url(re.compile(r"kpi=arpdau"), timeout=30_000)
    # away to another page and back through the sidebar: the editor and its URL come back
    page.get_by_test_id("stSidebarNav").get_by_text("Schema", exact=True).click()
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text("KPIs", exact=True).click()
    wait_for_app(page)
    expect_id(page, "arpdau")
    expect(page).to_have_url(re.compile(r"kpi=arpdau"), timeout=30_000)
    shot(page, "editor-url-selects-kpi")


@pytest.mark.browser
def test_a_draft_survives_a_reload_and_is_discarded_only_when_confirmed(page, writable_url, writable_project) -> None:
    page.goto(f"{writable_url}/properties?property=dau_active")
    wait_for_app(page)
    page.get_by_label("Label", exact=True).wait_for(timeout=60_000)
    wait_for_app(page)
    type_in(page, page, "Label", "Active that day (draft)")
    page.get_by_text("Unsaved changes").first.wait_for()
    deadline = time.monotonic() + 30
    while load_draft(writable_project.root, "prop") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert load_draft(writable_project.root, "prop")["label"] == "Active that day (draft)"

    page.reload()
    wait_for_app(page)
    page.get_by_text("Restored your unsaved changes").wait_for(timeout=60_000)
    wait_for_app(page)
    expect(page.get_by_label("Label", exact=True).first).to_have_value("Active that day (draft)", timeout=30_000)
    assert query(page) == {"property": ["dau_active"]}
    shot(page, "editor-draft-restored")

    button(page, "All properties").click()
    wait_for_app(page)
    page.get_by_text("has unsaved changes. Discard them to go back to all properties?").wait_for()
    shot(page, "editor-discard-prompt")
    button(page, "Keep editing").click()
    wait_for_app(page)
    expect(page.get_by_text("has unsaved changes. Discard them")).to_have_count(0, timeout=30_000)
    expect(page.get_by_label("Label", exact=True).first).to_have_value("Active that day (draft)")
    button(page, "All properties").click()
    wait_for_app(page)
    button(page, "Discard changes").click()
    wait_for_app(page)
    page.get_by_text("Event properties ·").first.wait_for()
    assert load_draft(writable_project.root, "prop") is None
    assert writable_project.files().properties["dau_active"].model.label != "Active that day (draft)"


@pytest.mark.browser
def test_the_events_page_previews_sample_rows(page, writable_url) -> None:
    page.goto(f"{writable_url}/events?event=ad_view")
    wait_for_app(page)
    page.get_by_text("Sample rows").first.wait_for(timeout=60_000)
    wait_for_app(page)
    assert page.get_by_text("rows of game.ad_views is read (no where)").count() == 1
    type_in(page, page, "Where", "{revenue_usd} > 0.02")
    note = page.get_by_text(re.compile(r"of [\d,]+ rows of game\.ad_views pass the where"))
    note.wait_for(timeout=60_000)
    no_exception(page)
    page.get_by_test_id("stDataFrame").first.wait_for()
    page.get_by_text("Sample rows").first.scroll_into_view_if_needed()
    shot(page, "editor-events-sample-rows")
    type_in(page, page, "Where", "{no_such_column} > 1")
    page.get_by_text("where references {no_such_column}").first.wait_for(timeout=60_000)
    expect(button(page, "Save")).to_be_disabled(timeout=30_000)


@pytest.mark.browser
def test_a_new_ratio_kpi_explains_its_avg_default(page, writable_url, writable_project) -> None:
    new_kpi(page, writable_url, "arpdau_note_test",
            "SAFE_DIVIDE(SUM({property.revenue_on_day}), SUM({property.dau_active}))")
    note = page.get_by_text("by default: the select divides two measures")
    note.wait_for(timeout=60_000)
    assert "average of its daily ratios" in note.inner_text()
    page.get_by_text("New KPI:").first.wait_for(timeout=60_000)
    note.scroll_into_view_if_needed()
    shot(page, "editor-kpi-ratio-default")
    button(page, "All KPIs").click()  # leave nothing behind for the next flows
    wait_for_app(page)
    button(page, "Discard changes").click()
    wait_for_app(page)
    assert load_draft(writable_project.root, "kpi") is None
