"""Edit -> Explore -> drag -> rewind, in a real browser: a property saved without running an
update is planned and recomputed by the rewind itself (one job, planned in property names),
the progress the page shows never goes back, and the new property's values equal those of a
full refresh of a copy of the project (read with ``asemic-cli property values``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
import sys
import time

import pytest
from studio_helpers import copy_project, no_exception, shot, wait_for_app

from asemic_core.project import Project

PROPERTY_ID = "revenue_lifetime_rewind_test"
NEW_PROPERTY = f"""
  {PROPERTY_ID}:
    data_type: NUMBER
    description: Lifetime revenue, saved just before a rewind
    lifetime_property:
      source_property: revenue_on_day
      merge_function: sum
"""
CHART = "[data-testid='stVegaLiteChart']"


def cli(root, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "asemic_core.cli", "--project", str(root), *args],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def values(root, day_from: dt.date, day_to: dt.date) -> list[dict]:
    text = cli(root, "property", "values", PROPERTY_ID, "--from", str(day_from), "--to", str(day_to), "--format", "csv")
    return sorted(csv.DictReader(io.StringIO(text)), key=lambda r: (r["entity_id"], r["date"]))


def drag_across(page, chart, start: float, end: float) -> None:
    """Drag across the middle of ``chart`` from ``start`` to ``end`` (fractions of its width)."""
    box = chart.bounding_box()
    y = box["y"] + box["height"] * 0.45
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.mouse.up()


def progress_samples(page, timeout: float = 120) -> list[float]:
    """The job progress the Explore page shows, sampled until the job's outcome appears."""
    bar = page.locator("[data-testid='stProgress'] [role='progressbar']")
    outcome = page.get_by_text(re.compile(r"^rewind rewind-\w+ (succeeded|failed|interrupted)"))
    samples: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if outcome.count():
            return samples
        try:
            if bar.count():
                now = bar.first.get_attribute("aria-valuenow", timeout=500)
                if now is not None:
                    samples.append(float(now))
        except Exception:  # noqa: BLE001 - the bar is replaced while we read it
            pass
        page.wait_for_timeout(100)
    raise AssertionError(f"the rewind did not end within {timeout}s (progress seen: {samples})")


@pytest.mark.browser
def test_edit_drag_rewind_equals_a_refresh(page, writable_project, writable_url, tmp_path) -> None:
    root = writable_project.root
    path = root / "userentity" / "properties" / "revenue.yml"
    path.write_text(path.read_text().rstrip("\n") + "\n" + NEW_PROPERTY)
    assert PROPERTY_ID in Project(root).status().stale

    page.goto(f"{writable_url}/explore")
    wait_for_app(page)
    no_exception(page)
    chart = page.locator(CHART).first
    chart.locator("canvas, svg").first.wait_for()
    drag_across(page, chart, 0.45, 0.6)
    zoomed = page.get_by_text(re.compile(r"Zoomed to \d{4}-\d\d-\d\d \.\. \d{4}-\d\d-\d\d")).first
    zoomed.wait_for(timeout=30_000)
    wait_for_app(page)
    no_exception(page)
    found = re.search(r"Zoomed to (\S+) \.\. (\S+) \((\d+) day", zoomed.inner_text())
    day_from, day_to = dt.date.fromisoformat(found.group(1)), dt.date.fromisoformat(found.group(2))
    status = Project(root).status()
    assert dt.date.fromisoformat(status.first_day) <= day_from <= day_to <= dt.date.fromisoformat(status.watermark)
    assert int(found.group(3)) == (day_to - day_from).days + 1 < 30  # narrower than the default 30 days
    shot(page, "rewind-flow-zoomed")

    page.get_by_role("button", name=re.compile(r"Rewind these days")).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(re.compile(r"recompute the property .*revenue_lifetime_rewind_test \(new\)")).first.wait_for()
    assert "__inner" not in dialog.inner_text() and "asemic-cli" not in dialog.inner_text()
    shot(page, "rewind-flow-plan")
    watermark = Project(root).status().watermark
    confirm = dialog.get_by_role("button", name=re.compile(r"^Rewind \d{4}-"))
    label = confirm.inner_text().strip()
    assert label == f"Rewind {day_from} .. {watermark}"
    confirm.click()

    samples = progress_samples(page)
    wait_for_app(page)
    no_exception(page)
    shot(page, "rewind-flow-done")
    assert samples == sorted(samples), samples
    job = Project(root).jobs(1)[0]
    assert (job.kind, job.status, job.args) == ("rewind", "succeeded", {"from": str(day_from), "to": str(day_to)})
    page.get_by_text(re.compile(rf"^rewind {job.id} succeeded: ")).wait_for()
    assert not Project(root).status().stale
    assert "asemic-cli" not in page.locator("[data-testid='stMain']").inner_text()

    fresh = copy_project(Project(root), tmp_path / "fresh")
    cli(fresh.root, "model", "refresh")
    rewound, refreshed = values(root, day_from, day_to), values(fresh.root, day_from, day_to)
    assert rewound and rewound == refreshed
    assert any(float(r["value"] or 0) > 0 for r in rewound)
