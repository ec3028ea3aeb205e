"""The Jobs page (AppTest): history, plans, launching a detached job, the writer lock."""

from __future__ import annotations

import os
import time

from asemic_core.jobs import children
from asemic_core.jobs.requests import (JobRequest, active_job, describe_args, duration_text, expected_duration,
                                      shown_progress, stale_properties)

PAGE = "pages/jobs.py"
TIMEOUT = 60.0


def _open(app):
    app.switch_page(PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _history(app):
    return next(d.value for d in app.dataframe if "origin" in d.value.columns)


def _texts(app) -> str:
    return "\n".join([m.value for m in app.markdown] + [c.value for c in app.code] + [c.value for c in app.caption])


def _wait_for_jobs(project, count: int):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        jobs = project.jobs()
        if len(jobs) >= count and active_job(jobs) is None and not children.running():
            return jobs
        time.sleep(0.25)
    raise AssertionError(f"no finished job after {TIMEOUT:.0f} s: {project.jobs()}")


def test_history_shows_the_refresh(app, studio_project):
    _open(app)
    history = _history(app)
    refresh = studio_project.jobs()[0]
    assert history["id"].tolist() == [refresh.id]
    assert history["kind"].tolist() == ["refresh"]
    assert history["status"].tolist() == ["succeeded"]
    assert app.selectbox(key="jobs_detail").value == refresh.id
    assert app.metric[0].value == "succeeded"
    assert int(app.metric[2].value) > 0  # days written
    assert len(app.get("vega_lite_chart")) == 2  # durations, per-day rows and seconds
    assert "scheduler has not run" in _texts(app)


def test_planning_an_update_shows_the_plan(app, studio_project):
    _open(app)
    assert app.radio(key="jobs_kind").value == "update"
    app.button(key="jobs_plan_btn").click().run()
    assert not app.exception and not app.error
    text = _texts(app)
    assert "update: 3 day(s) from" in text  # the CLI's plan text (lookback_days: 3)
    assert "lookback_days" in text
    assert app.button(key="jobs_run_btn")
    assert studio_project.jobs()[0].kind == "refresh"  # planning changes nothing


def test_planning_a_rewind_names_the_extra_days(app, studio_project):
    watermark = studio_project.status().watermark
    _open(app)
    app.radio(key="jobs_kind").set_value("rewind").run()
    app.button(key="jobs_plan_btn").click().run()
    assert not app.exception and not app.error
    text = _texts(app)
    assert "rewind:" in text and watermark in text


def test_changing_the_request_drops_the_plan(app):
    _open(app)
    app.button(key="jobs_plan_btn").click().run()
    app.radio(key="jobs_kind").set_value("refresh").run()
    assert not app.exception
    assert not [b for b in app.button if b.key == "jobs_run_btn"]


def _change_wau_window(project) -> None:
    path = project.root / "userentity" / "properties" / "activity.yml"
    text = path.read_text()
    old = "window_function: max\n      relative_days_from: -6"
    assert old in text
    path.write_text(text.replace(old, "window_function: max\n      relative_days_from: -5", 1))


def test_partial_update_suggests_the_stale_columns(app, studio_project):
    _open(app)
    app.radio(key="jobs_kind").set_value("partial update").run()
    assert "No stale columns" in _texts(app)
    _change_wau_window(studio_project)
    app.run()
    assert not app.exception
    assert "`wau_active`" in _texts(app)
    app.button(key="jobs_use_stale").click().run()
    assert app.multiselect(key="jobs_partial_properties").value == ["wau_active"]
    app.button(key="jobs_plan_btn").click().run()
    assert not app.exception and not app.error
    text = _texts(app)
    assert "update (partial)" in text and "property wau_active: definition new or changed" in text


def test_partial_update_preselects_the_stale_columns(app, studio_project):
    _change_wau_window(studio_project)
    _open(app)
    app.radio(key="jobs_kind").set_value("partial update").run()
    assert app.multiselect(key="jobs_partial_properties").value == ["wau_active"]


def test_partial_update_of_a_kpi(app):
    _open(app)
    app.radio(key="jobs_kind").set_value("partial update").run()
    app.multiselect(key="jobs_partial_kpis").set_value(["dau"]).run()
    app.button(key="jobs_plan_btn").click().run()
    assert not app.exception and not app.error
    assert "property dau_active: needed by the request" in _texts(app)


def test_launching_a_job_shows_it_in_history_as_succeeded(app, studio_project):
    _open(app)
    app.radio(key="jobs_kind").set_value("rewind").run()
    app.button(key="jobs_plan_btn").click().run()
    app.button(key="jobs_run_btn").click().run()
    assert not app.exception and not app.error
    assert any("Started rewind" in s.value for s in app.success)
    jobs = _wait_for_jobs(studio_project, 2)
    app.run()
    assert not app.exception
    history = _history(app)
    latest = jobs[0]
    assert (latest.kind, latest.origin, latest.status) == ("rewind", "app", "succeeded"), latest.error
    row = history[history["id"] == latest.id].iloc[0]
    assert row["status"] == "succeeded" and row["origin"] == "app"
    assert not app.error
    assert app.selectbox(key="jobs_detail").value == latest.id  # the detail follows the newest job
    assert app.metric[0].value == "succeeded"


def test_a_second_job_while_the_lock_is_held_names_the_running_job(app, studio_project):
    _open(app)
    app.button(key="jobs_plan_btn").click().run()
    lock = studio_project.model_store().lock
    lock.acquire("test-job")
    try:
        app.run()
        assert any("test-job" in i.value for i in app.info)  # the live panel names the holder
        app.button(key="jobs_run_btn").click().run()
        assert not app.exception
        assert any("test-job" in e.value for e in app.error), [e.value for e in app.error]
    finally:
        lock.release()
    assert len(studio_project.jobs()) == 1  # nothing was queued


def test_a_failed_job_is_shown_as_an_error(app, studio_project):
    store = studio_project.model_store()
    job_id = store.jobs.create("update", {}, "x", "cli")
    store.jobs.start(job_id)
    store.jobs.finish(job_id, "failed", error="the warehouse went away")
    _open(app)
    assert any("the warehouse went away" in e.value for e in app.error)
    assert "failed" in _history(app)["status"].tolist()


# -- helpers --------------------------------------------------------------------------------
def test_job_request_args():
    import datetime as dt

    assert JobRequest("update").args == {}
    assert JobRequest("update", ("dau",)).args == {"kpis": ["dau"], "properties": []}
    assert JobRequest("update", ("dau",)).describe() == "update of KPI dau"
    rewind = JobRequest("rewind", day_from=dt.date(2026, 1, 2), day_to=dt.date(2026, 1, 3))
    assert rewind.args == {"from": "2026-01-02", "to": "2026-01-03"}
    assert rewind.describe() == "rewind 2026-01-02 .. 2026-01-03"


def test_duration_text():
    assert duration_text(None) == ""
    assert duration_text(1.234) == "1.2 s"
    assert duration_text(125) == "2 min 05 s"


def test_describe_args(studio_project):
    record = studio_project.jobs()[0]
    assert describe_args(record) == ""
    record.kind, record.args = "update", {"kpis": ["dau"], "properties": ["platform"]}
    assert describe_args(record) == "kpi dau, property platform"


def test_stale_properties_map_inline_sources_to_their_property(studio_project):
    class Status:
        stale = ["first_purchase_date__inner", "platform", "gone"]

    assert stale_properties(Status(), studio_project.resolved()) == ["first_purchase_date", "platform"]


def test_progress_is_estimated_from_the_last_comparable_job(studio_project):
    import dataclasses

    refresh = studio_project.jobs()[0]
    running = dataclasses.replace(refresh, id="refresh-new", status="running", started_at=time.time() - 0.1,
                                  finished_at=None, progress=0.0)
    expected = expected_duration([running, refresh], running)
    assert expected == refresh.duration
    fraction, estimated = shown_progress(dataclasses.replace(running, progress=0.5), expected)
    assert (fraction, estimated) == (0.5, False)
    fraction, estimated = shown_progress(running, expected)
    assert estimated and 0 < fraction <= 0.95
    assert shown_progress(running, None) == (0.0, False)
    partial = dataclasses.replace(running, kind="update", args={"kpis": ["dau"]})
    assert expected_duration([partial, refresh], partial) is None


def test_a_running_job_shows_one_state_and_one_progress_everywhere(app, studio_project):
    from asemic_core.jobs.requests import job_progress

    store = studio_project.model_store()
    job_id = store.jobs.create("update", {}, "hash", "cli", status="queued")
    store.lock.acquire(job_id)
    try:
        store.jobs.start(job_id)
        store.jobs.progress(job_id, 0.4, "batch 2 of 5 written")
        store.jobs.progress(job_id, 0.3)  # a late, smaller report does not move it back
        _open(app)
        assert not app.exception
        record = studio_project.model_store().jobs.get(job_id)
        fraction, _estimated = job_progress(record, studio_project.jobs())
        assert record.progress == 0.4 and fraction >= 0.4
        shown = f"{fraction * 100:.0f}%"
        history = _history(app)
        row = history[history["id"] == job_id]
        assert list(row["status"]) == ["running"] and list(row["progress"]) == [shown]
        assert [p.proto.text for p in app.get("progress")][0].startswith(f"update `{job_id}` · running · {shown}")
        assert next(m.value for m in app.metric if m.label == "Status") == "running"
        assert f"Running **update** ({shown})" in "\n".join(m.value for m in app.markdown)
    finally:
        store.lock.release()


def _versions(app):
    return next(d.value for d in app.dataframe if "restorable" in d.value.columns)


def _daily_values(project, version=None):
    """Every row of the daily table as of ``version`` (default: the published one), read from its files."""
    import duckdb

    store = project.model_store(readonly=True)
    snapshot = store.snapshot("daily", version)
    paths = [f.path if os.path.isabs(f.path) else os.path.join(snapshot.location, f.path) for f in snapshot.files]
    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")
    try:
        return con.execute("SELECT entity_id, date, revenue_on_day FROM read_parquet(?, union_by_name = true) "
                           "ORDER BY entity_id, date", [paths]).fetchall()
    finally:
        con.close()


def _double_revenue(project) -> None:
    revenue = project.root / "userentity/properties/revenue.yml"
    text = revenue.read_text()
    revenue.write_text(text.replace("select: '{amount_usd}'", "select: '{amount_usd} * 2.0'", 1))


def test_versions_list_and_restore_of_version_one(app, studio_project):
    _double_revenue(studio_project)
    studio_project.update(origin="test")  # version 2: revenue doubled
    first = studio_project.history()[1]
    before = _daily_values(studio_project, first)
    assert _daily_values(studio_project) != before  # the update changed values
    _open(app)
    versions = _versions(app)
    assert versions["version"].tolist() == [2, 1]
    assert versions["kind"].tolist() == ["update", "refresh"]
    assert versions["current"].tolist() == [True, False]
    assert versions["rows"].tolist() == [v.rows for v in studio_project.history()]
    assert app.selectbox(key="versions_restore_pick").value == 1
    app.button(key="versions_restore_btn").click().run()
    warning = " ".join(w.value for w in app.warning)
    assert "version 3" in warning and "itself a new version" in warning
    assert studio_project.history()[0].version == 2  # nothing happens before the confirmation
    app.button(key="versions_restore_confirm_btn").click().run()
    assert not app.exception
    jobs = _wait_for_jobs(studio_project, 3)
    assert jobs[0].kind == "restore" and jobs[0].status == "succeeded", jobs[0]
    current = studio_project.history()[0]
    assert (current.version, current.kind, current.restored_from) == (3, "restore", 1)
    assert current.tables == first.tables
    assert _daily_values(studio_project) == before
    _open(app)
    versions = _versions(app)
    assert versions["version"].tolist() == [3, 2, 1]
    assert versions["kind"].tolist() == ["restore of 1", "update", "refresh"]
    assert versions["current"].tolist() == [True, False, False]


def test_restore_through_the_facade_restores_the_values(studio_project):
    before = _daily_values(studio_project)
    _double_revenue(studio_project)
    studio_project.update(origin="test")
    assert _daily_values(studio_project) != before
    studio_project.restore(1, origin="test")
    assert _daily_values(studio_project) == before
    assert [v.kind for v in studio_project.history()] == ["restore", "update", "refresh"]


def test_vacuum_from_the_page_keeps_the_current_version(app, studio_project):
    studio_project.update(origin="test")
    _open(app)
    app.number_input(key="versions_keep_days").set_value(0.0).run()
    assert any("older than 0 days" in c.value for c in app.caption)
    app.button(key="versions_vacuum_btn").click().run()
    assert not app.exception
    jobs = _wait_for_jobs(studio_project, 3)
    assert jobs[0].kind == "vacuum" and jobs[0].status == "succeeded", jobs[0]
    _open(app)
    versions = _versions(app)
    assert versions["restorable"].tolist() == [True, False]
    assert not [b for b in app.button if b.key == "versions_restore_btn"]  # nothing older to restore


def test_the_page_offers_to_compact_the_column_tables_of_a_partial_update(app, studio_project):
    _open(app)
    assert not [b for b in app.button if b.key == "versions_compact_btn"]  # none after a refresh
    from asemic_core.config.writer import save_property

    event = studio_project.resolved().properties["purchases_on_day"].source_event
    save_property(studio_project.root, "purchases_on_day", {"data_type": "INTEGER", "event_property": {
        "source_event": event, "select": "2", "aggregate_function": "sum", "default_value": 0}})
    studio_project.update(properties=["purchases_on_day"], origin="test")
    assert list(studio_project.column_tables().values()) == [("purchases_on_day",)]
    _open(app)
    info = " ".join(i.value for i in app.info)
    assert "1 column table(s)" in info and "`purchases_on_day`" in info
    app.button(key="versions_compact_btn").click().run()
    assert not app.exception
    jobs = _wait_for_jobs(studio_project, 3)
    assert jobs[0].kind == "compact" and jobs[0].status == "succeeded", jobs[0]
    assert studio_project.column_tables() == {}
    _open(app)
    assert not [b for b in app.button if b.key == "versions_compact_btn"]
    assert _versions(app)["kind"].tolist()[0] == "compact"
