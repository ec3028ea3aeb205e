"""A property saved without a job: its preview says the model does not hold it yet (not "No
change") and offers to materialize it, a partial update launched like the Jobs page does."""

from __future__ import annotations

import time

from studio_tree import create

from asemic_core.jobs import children
from asemic_core.jobs.requests import active_job

TIMEOUT = 120.0


def _wait_for_job(project, job_id: str):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        jobs = project.jobs()
        if any(j.id == job_id for j in jobs) and active_job(jobs) is None and not children.running():
            return next(j for j in jobs if j.id == job_id)
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish within {TIMEOUT:.0f} s: {project.jobs()}")


def test_a_saved_property_not_in_the_model_offers_its_partial_update(properties_page, studio_project) -> None:
    app = create(properties_page, "prop", "sessions_on_day", kind="event_property")
    app.selectbox(key="prop_editor.event.source_event").select("session").run()
    app.selectbox(key="prop_editor.event.aggregate_function").select("count").run()
    app.text_input(key="prop_editor.event.select").input("{user_id}").run()
    assert [i.value for i in app.info if i.value.startswith("New property")]
    assert not [b for b in app.button if b.key == "prop_materialize_run"]  # nothing saved yet
    app.button(key="prop_editor_save").click().run()
    assert not app.exception, app.exception
    assert "sessions_on_day" in studio_project.files().properties

    notes = [i.value for i in app.info]
    assert not [n for n in notes if n.startswith("No change")], notes
    assert [n for n in notes if n.startswith("Not in the model yet:")], notes
    assert any("Explore computes `sessions_on_day` on the fly until a job writes its column" in m.value
               for m in app.markdown)
    before = {j.id for j in studio_project.jobs()}
    app.button(key="prop_materialize_run").click().run()
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    launched = [j for j in studio_project.jobs() if j.id not in before]
    assert len(launched) == 1
    assert (launched[0].kind, launched[0].origin) == ("update", "app")
    assert launched[0].args == {"kpis": [], "properties": ["sessions_on_day"]}

    job = _wait_for_job(studio_project, launched[0].id)
    assert job.status == "succeeded", job.error
    assert "sessions_on_day" not in studio_project.status().stale
    app.run()
    assert not app.exception, app.exception
    assert any(f"`{job.id}` succeeded" in s.value for s in app.success)
    assert not [b for b in app.button if b.key == "prop_materialize_run"]  # the model holds it now
    assert [i.value for i in app.info if i.value.startswith("No change")]
