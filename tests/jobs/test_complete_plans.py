"""Plans are complete before anything runs: a rewind or an update after a config edit
recomputes the changed properties first, in the same job, says so in the plan in property
names, reports progress that never goes back, and summarizes what its detail shows."""

from __future__ import annotations

import datetime as dt

import pytest
from jobs_support import copy_project, day
from polars.testing import assert_frame_equal

from asemic_core.storage.job_log import JobLog
from asemic_core.project import Project

NEW_PROPERTY = """
  ad_revenue_lifetime_test:
    data_type: NUMBER
    description: Lifetime revenue, a second time
    lifetime_property:
      source_property: revenue_on_day
      merge_function: sum
"""


def add_property(root) -> None:
    path = root / "userentity" / "properties" / "revenue.yml"
    path.write_text(path.read_text().rstrip("\n") + "\n" + NEW_PROPERTY)


def change_inline_property(root) -> None:
    """first_purchase_date keeps its id but its inline source changes (its __inner column goes stale)."""
    path = root / "userentity" / "properties" / "revenue.yml"
    text = path.read_text()
    assert "        aggregate_function: min\n      merge_function: first_value" in text
    path.write_text(text.replace("        aggregate_function: min\n      merge_function: first_value",
                                 "        aggregate_function: max\n      merge_function: first_value"))


@pytest.fixture
def recorded_progress(monkeypatch) -> list[float]:
    seen: list[float] = []
    original = JobLog.progress

    def record(self, job_id, fraction, message=None):
        original(self, job_id, fraction, message)
        seen.append(self.get(job_id).progress)

    monkeypatch.setattr(JobLog, "progress", record)
    return seen


def test_the_log_progress_never_goes_back(demo_states, tmp_path):
    project = Project(copy_project(demo_states.clean, tmp_path / "p"))
    log = project.model_store().jobs
    job = log.create("update", {}, "hash", "test", status="running")
    for fraction in (0.2, 0.6, 0.5, 0.0, 0.7):
        log.progress(job, fraction)
    assert log.get(job).progress == 0.7


def test_rewind_after_edits_plans_and_runs_the_changed_properties_first(demo_states, tmp_path, recorded_progress):
    root = copy_project(demo_states.clean, tmp_path / "edited")
    add_property(root)
    change_inline_property(root)
    project = Project(root)
    rewind_from, rewind_to = day(40), day(42)

    plan = project.plan_rewind(rewind_from, rewind_to)
    text = plan.describe()
    assert "__inner" not in text
    status = project.status()
    first, last = status.first_day, status.watermark
    assert plan.reasons[0] == (f"first, on every materialized day ({first} .. {last}): recompute the properties "
                               "first_purchase_date (changed), ad_revenue_lifetime_test (new), because the config "
                               "changed since they were materialized")
    assert plan.tables[0].columns == ["first_purchase_date", "ad_revenue_lifetime_test"]
    assert (plan.first_day, plan.last_day) == (rewind_from, dt.date.fromisoformat(last))

    result = project.rewind(rewind_from, rewind_to, origin="test")
    assert not project.status().stale
    assert recorded_progress == sorted(recorded_progress) and recorded_progress[-1] <= 1
    assert len(recorded_progress) >= 2  # both steps reported

    # One job; its summary is what its detail shows.
    record, days, phases = project.job(result.job_id)
    assert record.status == "succeeded" and record.progress == 1
    assert record.message == f"{sum(r for _d, r, _s in days):,} rows over {len(days)} days"
    assert len(days) == status.partitions and result.rows == sum(r for _d, r, _s in days)
    assert len({p for p, _s in phases}) == len(phases) and {"columns_compute", "compute_and_write"} <= {
        p for p, _s in phases}

    # The values equal a full refresh of the same config.
    fresh = Project(copy_project(root, tmp_path / "fresh"))
    fresh.refresh(origin="test")
    for prop in ("ad_revenue_lifetime_test", "first_purchase_date", "lifetime_revenue"):
        got = project.property_values(prop, day(0), dt.date.fromisoformat(last))
        want = fresh.property_values(prop, day(0), dt.date.fromisoformat(last))
        assert_frame_equal(got, want, check_exact=False)
    assert project.property_values("ad_revenue_lifetime_test", rewind_from, rewind_to)["value"].sum() > 0


def test_update_summary_agrees_with_its_detail(demo_states, tmp_path, recorded_progress):
    root = copy_project(demo_states.behind, tmp_path / "behind")
    add_property(root)
    project = Project(root)
    plan = project.plan_update()
    assert plan.reasons[0].startswith("first, on every materialized day") and "ad_revenue_lifetime_test (new)" in \
        plan.reasons[0]
    result = project.update(origin="test")
    record, days, phases = project.job(result.job_id)
    assert record.message == f"{result.rows:,} rows over {len(result.days)} days"
    assert [d for d, _r, _s in days] == [d for d, _r, _s in result.days]
    assert result.rows == sum(r for _d, r, _s in days)
    assert recorded_progress == sorted(recorded_progress)
    assert len({p for p, _s in phases}) == len(phases)
