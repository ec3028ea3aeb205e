"""End-to-end flows of the studio in a real browser: create a property and a KPI through
their forms (preview, save, YAML on disk), plan and run jobs, download the config zip.

Every flow here writes, so they run on ``writable_project`` (a copy of the session demo
project with its own Streamlit server, shared by the tests of this module, in file order:
the export flow finds the property and KPI the earlier flows saved).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import zipfile

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
import yaml
from studio_helpers import button, choose, no_exception, open_new, saved_object, shot, type_in, wait_for_app

from asemic_core.project import Project

PROPERTY_ID = "purchases_last_7_days"
KPI_ID = "revenue_flow_test"
CHART = "[data-testid='stVegaLiteChart']"


def wait_for_preview(page, impact: str) -> None:
    page.get_by_text(impact).first.wait_for(timeout=60_000)
    page.locator(f"{CHART} canvas, {CHART} svg").first.wait_for(timeout=60_000)
    wait_for_app(page)
    no_exception(page)


def save(page) -> None:
    save_button = button(page, "Save")
    assert save_button.is_enabled()
    save_button.click()
    wait_for_app(page)
    no_exception(page)
    page.get_by_text("Saved", exact=False).first.wait_for(timeout=15_000)  # the toast


@pytest.mark.browser
def test_create_property(page, writable_url, writable_project) -> None:
    open_new(page, writable_url, "properties", "New property", PROPERTY_ID, "Sliding window")
    no_exception(page)
    page.get_by_text("Fill in the source property to see a preview.").wait_for()
    shot(page, "flow-property-new")

    choose(page, page, "Source property", "purchases_on_day")
    type_in(page, page, "Description", "Payments in the 7 days ending on the day")
    page.get_by_text("Aggregates").first.wait_for()  # "Aggregates the day and the 6 days before it"
    wait_for_preview(page, "New property:")
    assert "user-days computed" in page.get_by_text("New property:").first.inner_text()
    shot(page, "flow-property-preview")

    save(page)
    page.get_by_text("purchases_last_7_days` · `", exact=False).or_(
        page.get_by_text(f"{PROPERTY_ID} · userentity/properties/")).first.wait_for(timeout=15_000)
    shot(page, "flow-property-saved")

    located = saved_object(writable_project.root, "properties", PROPERTY_ID)
    definition = located.model.sliding_window_property
    assert definition is not None
    assert definition.source_property == "purchases_on_day"
    assert (definition.window_function, definition.relative_days_from, definition.relative_days_to) == ("sum", -6, 0)
    assert located.model.description == "Payments in the 7 days ending on the day"
    text = (writable_project.root / located.file).read_text()
    assert PROPERTY_ID in yaml.safe_load(text)["properties"]


@pytest.mark.browser
def test_create_kpi(page, writable_url, writable_project) -> None:
    open_new(page, writable_url, "kpis", "New KPI", KPI_ID)
    no_exception(page)
    shot(page, "flow-kpi-new")

    select = page.get_by_label("Select", exact=True)
    select.fill("SUM({property.revenue_on_day})")
    select.blur()
    wait_for_app(page)
    type_in(page, page, "Label", "Revenue (flow test)")
    wait_for_preview(page, "New KPI:")
    assert "day(s) computed" in page.get_by_text("New KPI:").first.inner_text()
    shot(page, "flow-kpi-preview")

    save(page)
    shot(page, "flow-kpi-saved")

    located = saved_object(writable_project.root, "kpis", KPI_ID)
    assert located.model.select == "SUM({property.revenue_on_day})"
    assert located.model.label == "Revenue (flow test)"
    assert KPI_ID in yaml.safe_load((writable_project.root / located.file).read_text())["kpis"]


def wait_for_job(page, detail: str, timeout: float = 90) -> None:
    """Poll the Jobs page until "Job detail" (which follows the newest job) shows a job whose
    caption starts with ``detail`` (e.g. "refresh  from app") and whose status is succeeded."""
    caption = page.get_by_text(re.compile(rf"^{re.escape(detail)}; created"))
    status = page.get_by_test_id("stMetric").filter(has_text="Status")
    deadline = time.monotonic() + timeout
    reloaded = time.monotonic()
    seen = ""
    while time.monotonic() < deadline:
        if caption.count() and status.count():
            seen = status.first.inner_text()
            if "succeeded" in seen:
                return
            assert "failed" not in seen and "interrupted" not in seen, seen
        if time.monotonic() - reloaded > 20:  # the page polls by itself; a reload is the fallback
            page.reload()
            wait_for_app(page)
            reloaded = time.monotonic()
        page.wait_for_timeout(1000)
    raise AssertionError(f"no succeeded job '{detail}' within {timeout}s (status: {seen!r})")


def plan_job(page, kind: str, days: str = r"\d+") -> None:
    """On the Jobs page: choose ``kind``, plan it, wait for the plan's headline."""
    page.get_by_test_id("stRadio").get_by_text(kind, exact=True).click()
    wait_for_app(page)
    button(page, f"Plan {kind}").click()
    wait_for_app(page)
    page.get_by_text(re.compile(rf"^{kind}: {days} day\(s\), ")).first.wait_for()


def run_planned(page, name: str) -> None:
    button(page, f"Run {name}").click()
    page.get_by_text(f"Started {name}").wait_for(timeout=30_000)
    no_exception(page)


@pytest.mark.browser
def test_jobs_refresh_and_rewind(page, writable_url, writable_project) -> None:
    page.goto(f"{writable_url}/jobs")
    wait_for_app(page)
    no_exception(page)

    plan_job(page, "refresh")
    shot(page, "flow-jobs-refresh-plan")

    run_planned(page, "refresh")
    try:  # a small project's refresh may finish before the progress bar is drawn
        page.get_by_test_id("stProgress").first.wait_for(timeout=10_000)
    except PlaywrightTimeout:
        pass
    shot(page, "flow-jobs-refresh-running")
    wait_for_job(page, "refresh  from app")
    wait_for_app(page)
    no_exception(page)
    assert page.get_by_test_id("stMetric").filter(has_text="Status").get_by_text("succeeded").count() == 1
    shot(page, "flow-jobs-refresh-done")

    # The new property of the property flow was materialized by the refresh (it is no longer stale).
    status = Project(writable_project.root).status()
    last = dt.date.fromisoformat(status.watermark)
    first = last - dt.timedelta(days=1)

    page.get_by_test_id("stRadio").get_by_text("rewind", exact=True).click()
    wait_for_app(page)
    # The range picker opens on (watermark - 2, watermark): type the start date's segments.
    for segment, value in (("year", f"{first.year}"), ("month", f"{first.month:02d}"), ("day", f"{first.day:02d}")):
        page.get_by_role("spinbutton", name=f"{segment}, Days to rewind start date").click()
        page.keyboard.type(value)
    page.keyboard.press("Escape")  # close the calendar; the value is sent when the field loses focus
    page.get_by_role("heading", name="Start a job").click()
    wait_for_app(page)
    name = f"rewind {first} .. {last}"
    button(page, f"Plan {name}").click()
    wait_for_app(page)
    page.get_by_text(re.compile(r"^rewind: 2 day\(s\), ")).first.wait_for()
    shot(page, "flow-jobs-rewind-plan")

    run_planned(page, name)
    wait_for_job(page, f"rewind {first} .. {last} from app")
    wait_for_app(page)
    no_exception(page)
    shot(page, "flow-jobs-rewind-done")
    record = next(j for j in Project(writable_project.root).jobs(5) if j.kind == "rewind")
    assert record.status == "succeeded"
    assert record.args.get("from") == str(first) and record.args.get("to") == str(last)


@pytest.mark.browser
def test_export_zip(page, writable_url, writable_project) -> None:
    page.goto(f"{writable_url}/export")
    wait_for_app(page)
    no_exception(page)
    with page.expect_download() as download:
        button(page, "Download config (.zip)").click()
    data = download.value.path().read_bytes()
    wait_for_app(page)
    page.get_by_text("Exported.").wait_for()
    shot(page, "flow-export-downloaded")

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        texts = {name: archive.read(name).decode() for name in archive.namelist() if not name.endswith("/")}
    assert "asemic.yml" in texts
    config = [n for n in texts if n.startswith("userentity/") and n.endswith((".yml", ".yaml"))]
    assert any(n.startswith("userentity/properties/") for n in config)
    assert any(n.startswith("userentity/kpis/") for n in config)
    parsed = {name: yaml.safe_load(texts[name]) for name in ["asemic.yml", *config]}
    properties = {k for d in parsed.values() if isinstance(d, dict) for k in (d.get("properties") or {})}
    kpis = {k for d in parsed.values() if isinstance(d, dict) for k in (d.get("kpis") or {})}
    assert "revenue_on_day" in properties and "revenue" in kpis
    files = Project(writable_project.root).files()
    for created, found, saved in ((PROPERTY_ID, properties, files.properties), (KPI_ID, kpis, files.kpis)):
        if created in saved:  # saved by the flows above (this module's project copy)
            assert created in found
