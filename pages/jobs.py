"""Jobs: plan, confirm and launch model jobs; follow the running one; history and per-day detail."""

from __future__ import annotations

import datetime as dt
import time

import streamlit as st

from studio.charts import drop_stale_choices, job_days_chart, job_durations_chart, job_heading, render_plan
from studio.job_status import progress_line
from studio.model_versions import versions_section
from studio.session import open_project, show_error
from asemic_core.errors import AsemicError
from asemic_core.jobs import children
from asemic_core.jobs.launcher import launch_job
from asemic_core.jobs.requests import JobRequest, active_job, describe_args, duration_text, job_progress, \
    job_rows, stale_properties, when
from asemic_core.jobs.scheduler import Scheduler, scheduler_status

project = open_project()
st.title("Jobs")
PLAN, LAUNCHED, LAUNCH_ERROR = "jobs_plan", "jobs_launched", "jobs_launch_error"

try:
    resolved = project.resolved()
    status = project.status()
    records = project.jobs(50)
except AsemicError as err:
    show_error(err)
    st.stop()
running = active_job(records)


# -- the running job (polled) -----------------------------------------------------------
@st.fragment(run_every=1 if running or st.session_state.get(LAUNCHED) else 5)
def live_job() -> None:
    jobs = project.jobs(10)
    job = active_job(jobs)
    launched = st.session_state.get(LAUNCHED)
    if job is not None:
        st.session_state.pop(LAUNCHED, None)
        if running is None or (running.id, running.status) != (job.id, job.status):
            st.rerun()  # a job, or a state, the history below does not show yet: redraw it all
        fraction, words = progress_line(project, job)
        st.progress(fraction, text=f"{words} · from {job.origin}")
        st.caption(job.message or "starting...")
        return
    if launched is not None:
        code = children.exit_code(launched["pid"])
        if code is None:
            st.progress(0.0, text=f"Starting **{launched['what']}** ...")
            return
        st.session_state.pop(LAUNCHED)
        if code != 0 and not [j for j in jobs if j.created_at >= launched["at"] - 1]:
            logs = project.model_store().root / "logs"
            output = children.launch_output(logs, launched["at"]) or f"see the logs in {logs}"
            st.session_state[LAUNCH_ERROR] = f"The {launched['what']} job stopped before it started: {output}"
        st.rerun()
    if running is not None:  # the job this page showed has ended
        st.rerun()
    if error := st.session_state.get(LAUNCH_ERROR):
        st.error(error, icon=":material/error:")
    holder = project.model_store().lock.holder()
    if holder:
        st.info(f"The model is locked by job `{holder}`.", icon=":material/lock:")
    else:
        st.caption(f"No job running · checked {dt.datetime.now():%H:%M:%S}")


with st.container(border=True):
    st.markdown("#### Now")
    live_job()
    schedule = scheduler_status(project)
    try:
        due = Scheduler(project).next_run()
    except AsemicError:
        due = None
    due_text = "now" if due is not None and due <= time.time() else when(due) if due else "unknown"
    if schedule:
        last = f"last tick {when(schedule.get('last_tick'))}: {schedule.get('status')}"
        if schedule.get("message"):
            last += f" ({schedule['message']})"
        if schedule.get("job_id"):
            last += f", job `{schedule['job_id']}`"
        icon = ":red[:material/error:]" if schedule.get("status") == "failed" else ":material/schedule:"
        st.markdown(f"{icon} Scheduler {last}. Next update due **{when(schedule.get('next_run')) or due_text}**.")
    else:
        st.markdown(f":material/schedule: The scheduler has not run on this project (start it with "
                    f"`asemic-cli scheduler`, or `--once` from cron). An update would be due **{due_text}**.")

if message := st.session_state.pop("jobs_message", None):
    st.success(message, icon=":material/sync:")


# -- start a job ------------------------------------------------------------------------
def select_stale(stale: list[str]) -> None:
    st.session_state["jobs_partial_properties"] = list(stale)


def job_request() -> JobRequest | None:
    """The form for one kind of job, as a request (None while incomplete)."""
    kind = st.radio("Job", ["update", "partial update", "rewind", "refresh"], horizontal=True, key="jobs_kind",
                    index=0 if status.watermark else 3,
                    captions=["new days + lookback", "chosen KPIs / properties", "a range of days", "everything"])
    if kind == "update":
        st.caption("Materializes the days after the watermark plus the last `lookback_days`, and every earlier day "
                   "that depends on them; stale columns are recomputed first.")
        return JobRequest("update")
    if kind == "refresh":
        st.caption("Rebuilds every day and every column from the events.")
        return JobRequest("refresh")
    if kind == "partial update":
        stale = stale_properties(status, resolved)
        st.session_state.setdefault("jobs_partial_properties", stale)
        if stale:
            note, use = st.columns([4, 1], vertical_alignment="center")
            note.markdown(":orange[:material/update:] Stale (new or changed since materialized): "
                          + ", ".join(f"`{s}`" for s in stale))
            use.button("Select these", key="jobs_use_stale", on_click=select_stale, args=(stale,), width="stretch")
        else:
            st.caption("No stale columns: every materialized column matches its definition.")
        left, right = st.columns(2)
        prop_ids = [p.id for p in resolved.properties.values() if not p.hidden]
        drop_stale_choices("jobs_partial_kpis", list(resolved.kpis))
        drop_stale_choices("jobs_partial_properties", prop_ids)
        kpis = left.multiselect("KPIs", list(resolved.kpis), key="jobs_partial_kpis")
        props = right.multiselect("Properties", prop_ids, key="jobs_partial_properties")
        if not kpis and not props:
            st.info("Choose the KPIs or properties whose columns to recompute.")
            return None
        return JobRequest("update", tuple(kpis), tuple(props))
    if not status.watermark:
        st.info("Nothing is materialized yet: run a refresh first.")
        return None
    first, last = dt.date.fromisoformat(status.first_day), dt.date.fromisoformat(status.watermark)
    picked = st.date_input("Days to rewind", value=(max(first, last - dt.timedelta(days=2)), last),
                           min_value=first, max_value=last, key="jobs_rewind_days", format="YYYY-MM-DD")
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick the last day of the range too.")
        return None
    return JobRequest("rewind", day_from=picked[0], day_to=picked[1])


def start_job(kind: str, args: dict, what: str) -> None:
    """Launch a job detached; the live view above follows it."""
    try:
        process = launch_job(project, kind, args, origin="app")
    except AsemicError as err:
        show_error(err)
        return
    st.session_state.pop(PLAN, None)
    st.session_state.pop(LAUNCH_ERROR, None)
    st.session_state[LAUNCHED] = {"what": what, "pid": children.keep(process), "at": time.time()}
    st.session_state["jobs_message"] = f"Started {what}; it runs on even if you leave this page."
    st.rerun()


with st.container(border=True):
    st.markdown("#### Start a job")
    request = job_request()
    planned = st.session_state.get(PLAN)
    if planned is not None and planned[0] != request:
        st.session_state.pop(PLAN)
        planned = None
    if request is not None and st.button(f"Plan {request.describe()}", icon=":material/list_alt:", key="jobs_plan_btn"):
        try:
            planned = (request, request.plan(project))
            st.session_state[PLAN] = planned
        except AsemicError as err:
            show_error(err)
    if planned is not None:
        request, plan = planned
        render_plan(plan)
        if running is not None:
            st.warning(f"Job `{running.id}` ({running.kind}) is running; a new job is refused until it finishes.")
        if st.button(f"Run {request.describe()}", type="primary", icon=":material/play_arrow:", key="jobs_run_btn"):
            start_job(request.kind, request.args, request.describe())

with st.container(border=True):
    if chosen := versions_section(project, busy=running is not None):
        start_job(*chosen)


# -- history --------------------------------------------------------------------------
st.markdown("#### History")
if not records:
    st.info("No jobs yet.")
    st.stop()
last_job = records[0]
if last_job.status in ("failed", "interrupted"):
    st.error(f"The last job `{last_job.id}` ({last_job.kind}) {last_job.status}: {last_job.error}",
             icon=":material/error:")
rows = job_rows(records)
st.dataframe(
    [{"id": r.id, "kind": r.kind, "args": r.args, "origin": r.origin, "status": r.status,
      "progress": f"{job_progress(record, records)[0] * 100:.0f}%", "started": r.started,
      "duration": duration_text(r.duration_s), "message": r.error or r.message} for r, record in zip(rows, records)],
    hide_index=True, width="stretch",
    column_config={"message": st.column_config.TextColumn("message / error", width="large")},
)
st.altair_chart(job_durations_chart(rows), width="stretch")

st.markdown("#### Job detail")
by_id = {r.id: r for r in records}
if st.session_state.get("jobs_detail_pinned") not in by_id:  # follow the newest job unless one was chosen
    st.session_state["jobs_detail"] = records[0].id


def pin_detail() -> None:
    chosen = st.session_state["jobs_detail"]
    st.session_state["jobs_detail_pinned"] = chosen if chosen != records[0].id else None


job_id = st.selectbox("Job", list(by_id), key="jobs_detail", format_func=lambda j: job_heading(by_id[j]),
                      on_change=pin_detail)
try:
    _latest, days, phases = project.job(job_id)
except AsemicError as err:
    show_error(err)
    st.stop()
record = by_id[job_id]  # the state the history above shows (the live view reruns the page when it changes)
metrics = st.columns(4)
metrics[0].metric("Status", record.status)
metrics[1].metric("Duration", duration_text(record.duration) or "-")
metrics[2].metric("Days written", len(days))
metrics[3].metric("Rows written", f"{sum(d[1] for d in days):,}")
st.caption(f"{record.kind} {describe_args(record)} from {record.origin}; created {when(record.created_at)}, "
           f"finished {when(record.finished_at) or '-'}; config {record.config_hash}")
if record.error:
    st.error(record.error, icon=":material/error:")
elif record.message:
    st.caption(record.message)
if phases:
    st.dataframe([{"phase": p, "seconds": round(s, 3)} for p, s in phases], hide_index=True)
if days:
    st.altair_chart(job_days_chart(days), width="stretch")
    st.dataframe([{"day": d, "rows": r, "seconds": round(s, 4)} for d, r, s in days], hide_index=True,
                 width="stretch")
else:
    st.caption("This job wrote no day partitions.")
