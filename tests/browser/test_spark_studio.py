"""The studio on a Spark project (``asemic-cli demo init DIR --engine spark``, small): the
Overview names the engine and its dry run (on Spark) passes, a refresh started from the
Jobs page runs on Spark to success, and Explore charts a KPI of the Spark-written model.
Skipped, with the reason, without pyspark or Java."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from conftest import serve_studio
from playwright.sync_api import expect
from studio_helpers import button, no_exception, open_new, shot, wait_for_app
from test_flows import plan_job, run_planned, wait_for_job

from asemic_core.backend.spark_session import spark_unavailable
from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import init_demo
from asemic_core.project import Project
from asemic_core.query.kpi import KpiRequest

CHART = "[data-testid='stVegaLiteChart']"


def _missing() -> str | None:
    return spark_unavailable()


pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing() is not None, reason=f"needs Spark: {_missing()}")]


@pytest.fixture(scope="module")
def spark_project(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("spark-studio") / "project"
    init_demo(root, DemoSpec(users=150, days=14, seed=5), engine="spark")
    return Project(root)


@pytest.fixture(scope="module")
def spark_url(spark_project):
    with serve_studio(spark_project.root) as url:
        yield url


def test_overview_jobs_and_explore_on_spark(page, spark_url, spark_project) -> None:
    page.set_default_timeout(90_000)  # the studio starts its Spark session on the first dry run
    page.goto(spark_url)
    wait_for_app(page)
    page.get_by_text(re.compile(r"Engine: Spark local\[2\]: jobs run on Spark \(the events from Parquet tables")).first.wait_for()
    page.get_by_text("Dry run against the warehouse passed", exact=False).first.wait_for(timeout=120_000)
    no_exception(page)
    shot(page, "spark-overview")

    page.goto(f"{spark_url}/jobs")
    wait_for_app(page)
    plan_job(page, "refresh", days="14")
    run_planned(page, "refresh")
    wait_for_job(page, "refresh  from app", timeout=300)
    wait_for_app(page)
    no_exception(page)
    shot(page, "spark-jobs-refresh-done")
    [record] = [j for j in spark_project.jobs(5) if j.kind == "refresh"]
    assert record.status == "succeeded"
    # Spark wrote the model: the published version's files are in Spark's version directories.
    tables = spark_project.engine_settings().spark.tables_path
    assert any(Path(tables, "daily").glob("v*/date=*/*.parquet"))

    page.goto(f"{spark_url}/explore")
    wait_for_app(page)
    page.locator(f"{CHART} canvas, {CHART} svg").first.wait_for()
    no_exception(page)
    assert page.get_by_text("not been materialized", exact=False).count() == 0
    # The headline is the KPI's average over the range the page shows (the whole model).
    status = spark_project.status()
    first, last = (dt.date.fromisoformat(str(d)) for d in (status.first_day, status.watermark))
    page.get_by_text(f"Average per day, {first} .. {last}").first.wait_for()
    result = spark_project.kpi_query(KpiRequest("active_users", first, last))
    assert result.points.height == 14 and result.total > 0
    page.get_by_text(f"{result.total:,.2f}", exact=True).first.wait_for()
    shot(page, "spark-explore")


def test_every_page_renders_on_spark(page, spark_url) -> None:
    """After the refresh above: no page of the studio fails on a Spark project."""
    page.set_default_timeout(90_000)
    for path in ["", "events", "properties", "kpis", "schema", "explore", "jobs", "git", "export"]:
        page.goto(f"{spark_url}/{path}")
        wait_for_app(page)
        no_exception(page)
        assert page.locator("h1").count() >= 1, path
        shot(page, f"spark-page-{path or 'overview'}")
        if path == "events":  # the studio lists the Parquet warehouse's tables (all used by the demo)
            page.get_by_text("Every table of the warehouse is already used by an event table.").wait_for()
            assert page.get_by_text("The warehouse is not reachable", exact=False).count() == 0


def test_a_kpi_draft_is_compiled_on_spark(page, spark_url, spark_project) -> None:
    """The editor checks an unsaved KPI on Spark: Spark's compile error, Save disabled."""
    page.set_default_timeout(90_000)
    open_new(page, spark_url, "kpis", "New KPI", "revenue_plus")
    select = page.get_by_label("Select", exact=True)
    select.fill("SUM({property.revenue_on_day} + TRUE)")
    select.blur()
    wait_for_app(page)
    error = page.get_by_test_id("stAlertContentError").filter(has_text="DATATYPE_MISMATCH")
    error.first.wait_for()
    no_exception(page)
    assert "does not compile against the warehouse" in error.first.inner_text()
    expect(button(page, "Save")).to_be_disabled()
    shot(page, "spark-editor-kpi-broken")
    assert "revenue_plus" not in spark_project.files().kpis
