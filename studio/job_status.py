"""One view of a job's progress for every page (Jobs, Explore, the sidebar, the property
editor): the same status and the same fraction, which never goes back while the job runs;
and the offer to materialize a saved property the model does not hold yet."""

from __future__ import annotations

import streamlit as st

from asemic_core.errors import AsemicError
from asemic_core.jobs import children
from asemic_core.jobs.launcher import launch_job
from asemic_core.jobs.requests import JobRequest, duration_text, job_progress as progress_of, property_column_state
from asemic_core.project import Project
from studio.session import show_error

HISTORY = 50


def progress_line(project: Project, job) -> tuple[float, str]:
    """The fraction to draw and its words, e.g. "rewind `rewind-ab12` · 40% · 3.2 s"."""
    fraction, estimated = progress_of(job, project.jobs(HISTORY))
    words = f"{job.kind} `{job.id}` · {job.status} · {fraction * 100:.0f}%" + (" (estimated)" if estimated else "")
    if job.duration is not None:
        words += f" · {duration_text(job.duration)}"
    return fraction, words


def job_progress(project: Project, job_id: str, what: str, state_key: str = "explore_launched") -> None:
    """Follow a launched job where it was launched: a live bar until it ends, then its outcome."""

    @st.fragment(run_every=1)
    def follow() -> None:
        try:
            record, _days, _phases = project.job(job_id)
        except AsemicError:  # the log row appears a moment after the launch
            st.progress(0.0, text=f"Starting {what} ...")
            return
        if record.status in ("queued", "running"):
            fraction, words = progress_line(project, record)
            st.progress(fraction, text=f"**{what}**: {words}")
            st.caption(record.message or "starting...")
            return
        st.session_state.pop(state_key, None)
        st.session_state[f"{state_key}_done"] = record
        st.rerun()  # the whole page: its charts read the new model version

    with st.container(border=True):
        follow()


def job_outcome(state_key: str = "explore_launched") -> None:
    """The message of a followed job that has ended (once)."""
    record = st.session_state.pop(f"{state_key}_done", None)
    if record is None:
        return
    if record.status == "succeeded":
        st.success(f"{record.kind} `{record.id}` succeeded: {record.message}. The charts show the new values.",
                   icon=":material/check_circle:")
    else:
        st.error(f"{record.kind} `{record.id}` {record.status}: {record.error}", icon=":material/error:")


MATERIALIZE = "prop_materialize"
IN_MODEL = {"new": "Explore computes `{id}` on the fly until a job writes its column.",
            "stale": "The model holds the values of an earlier definition of `{id}`; Explore computes the saved "
                     "one on the fly until a job writes its column again."}


def materialize_offer(project: Project, prop_id: str, status, resolved) -> None:
    """Under a saved property's preview: when the model does not hold it as saved, say so and
    offer the partial update that writes its column (``update --property ID``, launched in
    its own process as the Jobs page does); the job's progress and outcome follow here."""
    launched = st.session_state.get(MATERIALIZE)
    if launched is not None:
        job_progress(project, *launched, state_key=MATERIALIZE)
        return
    job_outcome(MATERIALIZE)
    state = property_column_state(status, resolved, prop_id)
    if state is None:
        return
    with st.container(border=True, key="prop_materialize_offer"):
        st.markdown(":orange[:material/update:] " + IN_MODEL[state].replace("{id}", prop_id))
        if st.button(f"Materialize {prop_id}", key="prop_materialize_run", icon=":material/play_arrow:",
                     help="A partial update (asemic-cli model update --property): the columns of this property "
                          "and of what it reads, on every materialized day."):
            request = JobRequest("update", properties=(prop_id,))
            try:
                process = launch_job(project, request.kind, request.args)
                children.keep(process)
            except AsemicError as err:
                show_error(err)
                return
            st.session_state[MATERIALIZE] = (process.job_id, request.describe())
            st.rerun()
