"""ARCHITECTURE "Storage", guarantee 2: a job killed at any instant (kill -9) leaves every
partition either as it was or as it should be; the job log shows the job as
interrupted; the writer lock is free; re-running the job finishes the work.

Each case starts from a copy of a prepared project (demo, 3000 users over 60 days) whose
model is the "old" state and whose warehouse holds the data the job should bring in:

- refresh and update: the model was built when the warehouse ended on day 53; the
  warehouse now holds all 60 days (update: new days plus its lookback);
- rewind: the model is current, then events on days 20..24 changed; ``rewind`` 20..24;
- partial: the model is current, then a property's window is edited; ``update --property``;
- partial-activity: the same with an activity column edited (a purchase count made a sum):
  the partial update writes it into a column table of its own;
- compact: the model after that partial update; ``compact`` folds the column table into
  the daily table (old and new hold the same values);
- restore: version 1 was built when the warehouse ended on day 53, version 2 by an update
  over all 60 days; ``restore 1`` ("new" is version 1).

"new" is a clean refresh of the current warehouse and config (restore: version 1). The
job runs as ``python -m asemic_core.cli --project DIR model ...`` and is killed with SIGKILL either
at a random moment (one per job kind, then 6 more, 30 with ASEMIC_TEST_PROFILE=thorough) or exactly at
a chosen point of the write path (a wrapper in the child kills its own process there).
After the kill: the model is readable (a KPI, property values, every file of the
published version), every day is the old or the new version, the job log shows the killed job as
interrupted (succeeded if it got that far), the lock is free; then the job runs again
in-process and the model equals the clean refresh, with no file left that no table
version references.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from budget import budget
from jobs_support import (
    change_warehouse,
    check_readable,
    edit_activity_property,
    edit_property,
    copy_project,
    day,
    differing_days,
    env,
    hooked_command,
    job_args,
    partitions,
    run_job_in_process,
    same,
    start_cli,
    unregistered_files,
    wait_for,
)

from asemic_core.project import Project
from asemic_core.storage.store import DAILY, USERS

REWIND = (day(20), day(24))
KINDS = ("refresh", "update", "rewind", "partial", "partial-activity", "compact", "restore")


@dataclass
class Case:
    kind: str
    template: Path  # the project before the job
    old: dict[str, pl.DataFrame]  # its partitions
    new: dict[str, pl.DataFrame]  # a clean refresh's partitions over the same warehouse
    old_users: pl.DataFrame
    new_users: pl.DataFrame
    seconds: float  # about how long the job runs (once running); the last re-run's time


@pytest.fixture(scope="module")
def cases(demo_states, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    tmp = tmp_path_factory.mktemp("crash")
    clean, behind = demo_states.clean, demo_states.behind
    changed = copy_project(clean, tmp / "changed")  # the current model, events of days 20..24 changed
    change_warehouse(changed, *REWIND)
    changed_clean = copy_project(changed, tmp / "changed-clean")
    Project(changed_clean).refresh(origin="test")

    began = time.monotonic()
    Project(changed_clean).refresh(origin="test")
    seconds = time.monotonic() - began  # a first guess of any job's length, in-process
    edited = copy_project(clean, tmp / "edited")  # a property's definition changed: its column is stale
    edit_property(edited)
    edited_clean = copy_project(edited, tmp / "edited-clean")
    Project(edited_clean).refresh(origin="test")
    activity = copy_project(clean, tmp / "activity")  # an activity column's definition changed
    edit_activity_property(activity)
    activity_clean = copy_project(activity, tmp / "activity-clean")
    Project(activity_clean).refresh(origin="test")
    folded = copy_project(activity, tmp / "folded")  # a column table to fold
    run_job_in_process(Project(folded), "partial-activity")
    updated = copy_project(behind, tmp / "updated")  # version 2 published; the job restores version 1
    Project(updated).update(origin="test")
    out = {}
    for kind, template, reference in (("refresh", behind, clean), ("update", behind, clean),
                                      ("rewind", changed, changed_clean), ("partial", edited, edited_clean),
                                      ("partial-activity", activity, activity_clean),
                                      ("compact", folded, activity_clean)):
        out[kind] = Case(kind, template, partitions(template), partitions(reference),
                         partitions(template, USERS)["all"], partitions(reference, USERS)["all"], seconds)
    out["restore"] = Case("restore", updated, partitions(updated), partitions(updated, version=1),
                          partitions(updated, USERS)["all"], partitions(updated, USERS, version=1)["all"], seconds)
    return out


def check_after_kill(case: Case, work: Path, jobs_before: set[str], killed: bool, expect: str | None = None) -> str:
    """Checks of the killed project; returns which version the model holds ("old", "new")
    and the killed job's status in the log."""
    project = Project(work)
    new_jobs = [j for j in project.jobs(500) if j.id not in jobs_before]
    assert len(new_jobs) <= 1, new_jobs
    if new_jobs:
        job = new_jobs[0]
        allowed = ("interrupted", "succeeded") if killed else ("succeeded",)
        assert job.status in allowed, f"the killed job {job.id} is {job.status!r} in the job log"
        if job.status == "interrupted":
            assert job.error == "the job process stopped before finishing"
            assert job.created_at <= job.finished_at
    assert project.model_store().lock.holder() is None, "the writer lock is still held"

    now = partitions(work)
    versions = set()
    for key, frame in now.items():
        is_old = key in case.old and same(frame, case.old[key], exact=True)
        is_new = key in case.new and same(frame, case.new[key])
        assert is_old or is_new, f"partition {key} is neither the old nor the new version"
        versions.add("old" if is_old and not is_new else "new" if is_new and not is_old else "either")
    assert set(now) in (set(case.old), set(case.new)), "the set of days is neither the old nor the new one"
    users = partitions(work, USERS)["all"]
    assert same(users, case.old_users, exact=True) or same(users, case.new_users), "users is neither old nor new"
    check_readable(work)

    if versions <= {"either"} and set(case.old) != set(case.new):  # same rows per day: the days tell
        versions = {"new" if set(now) == set(case.new) else "old"}
    if case.kind == "compact":  # the same values before and after: the published version tells
        compacted = project.history()[0].kind == "compact"
        assert bool(project.model_store().snapshot(DAILY).overrides) is not compacted
        versions = {"new" if compacted else "old"}
    state = "old" if versions <= {"old", "either"} else "new" if versions <= {"new", "either"} else "mixed"
    assert state != "mixed", "some days hold the old version, others the new one: the days were not swapped together"
    if expect is not None:
        assert state == expect, f"expected the {expect} model after this kill, found {state}"
    return f"{state} model, job {new_jobs[0].status if new_jobs else 'not logged'}"


def rerun_and_compare(case: Case, work: Path) -> None:
    project = Project(work)
    began = time.monotonic()
    result = run_job_in_process(project, case.kind, REWIND)
    case.seconds = time.monotonic() - began
    assert differing_days(partitions(work), case.new) == [], "the re-run job does not give the clean refresh"
    assert unregistered_files(work) == [], "files of the killed job are left behind"
    assert project.status().stale == []
    check_readable(work)
    if result.status == "up to date":  # a compaction the killed job had published: nothing left to fold
        assert case.kind == "compact" and project.history()[0].kind == "compact"
        return
    latest = project.jobs(1)[0]
    assert latest.status == "succeeded" and latest.kind == ("update" if case.kind.startswith("partial") else case.kind)


def kill_at_random(case: Case, work: Path, rng: random.Random) -> str:
    """Start the job, wait until the log shows it running, SIGKILL it a random time later."""
    copy_project(case.template, work)
    store = Project(work).model_store()
    before = {j.id for j in store.jobs.list(500)}
    process = start_cli(work, *job_args(case.kind, REWIND))
    wait_for(lambda: process.poll() is not None or any(
        j.id not in before and j.status != "queued" for j in store.jobs.list(5)), timeout=300, every=0.005)
    time.sleep(rng.uniform(0, case.seconds))
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    code = process.wait(timeout=300)
    # the job may end between the poll and the signal: the signal then finds it exited (0)
    assert code in (-signal.SIGKILL, 0)
    killed = code == -signal.SIGKILL
    outcome = check_after_kill(case, work, before, killed)
    rerun_and_compare(case, work)
    return ("killed: " if killed else "finished first: ") + outcome


def _rng(kind: str) -> random.Random:
    seed = int(os.environ.get("ASEMIC_CRASH_SEED", "0")) or random.SystemRandom().randrange(1 << 30)
    print(f"ASEMIC_CRASH_SEED={seed}")  # shown when the test fails: the kill times derive from it
    return random.Random(f"{seed}-{kind}")


@pytest.mark.parametrize("kind", KINDS)
def test_kill_at_a_random_moment(kind: str, cases: dict[str, Case], tmp_path: Path) -> None:
    kill_at_random(cases[kind], tmp_path / "run", _rng(kind))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_kill_at_many_random_moments(kind: str, cases: dict[str, Case], tmp_path: Path) -> None:
    rng = _rng(kind)
    kills = budget(ci=3, thorough=30)  # seven kinds: 21 kills (28 with the test above), 210 thorough
    outcomes = Counter(kill_at_random(cases[kind], tmp_path / f"run{index}", rng) for index in range(kills))
    print(dict(outcomes))  # shown with -rP: how the kills fell


# -------------------------------------------------------------------- chosen crash points

# Each point wraps one function in the child process; the wrapper SIGKILLs the process
# before (or after) the call number given. The version of the daily table the kill must
# leave is fixed (None: either).
POINTS = {
    # the tables' new versions written, the model version not published yet
    "before-publish": ("asemic_core.storage.store", "ModelStore", "publish", "before", 1, "old"),
    # inside the publishing transaction, before its commit
    "inside-publish": ("asemic_core.storage.state", "StateStore", "insert_version", "after", 1, "old"),
    # one table's new version committed (daily), the other (users) not yet
    "between-tables": ("asemic_core.backend.delta_store", "DeltaTableStore", "write", "after", 1, "old"),
    # published, the DuckDB views file not rewritten yet
    "in-views": ("asemic_core.storage.duckdb_views", None, "write_views", "before", 1, "new"),
    # everything published, the job not yet marked succeeded
    "before-finish": ("asemic_core.storage.job_log", "JobLog", "finish", "before", 1, "new"),
}
DEFAULT_POINTS = [("refresh", "before-publish"), ("update", "inside-publish"), ("rewind", "between-tables")]
SLOW_POINTS = [(k, p) for k in KINDS for p in POINTS if (k, p) not in DEFAULT_POINTS
               and not (k == "restore" and p == "between-tables")]  # a restore writes no table


def crash_at(work: Path, point: tuple, argv: list[str]) -> int:
    process = subprocess.run(hooked_command(argv, point), env=env(), capture_output=True, text=True, timeout=300)
    return process.returncode


def kill_at_point(case: Case, work: Path, point_name: str) -> None:
    copy_project(case.template, work)
    before = {j.id for j in Project(work).jobs(500)}
    point = POINTS[point_name]
    code = crash_at(work, point, ["--project", str(work), *job_args(case.kind, REWIND)])
    assert code == -signal.SIGKILL, f"the job did not reach {point_name} (exit {code})"
    check_after_kill(case, work, before, killed=True, expect=point[-1])
    job = Project(work).jobs(1)[0]
    assert job.status == "interrupted"
    rerun_and_compare(case, work)


@pytest.mark.parametrize(("kind", "point"), DEFAULT_POINTS, ids=[f"{k}-{p}" for k, p in DEFAULT_POINTS])
def test_kill_at_a_crash_point(kind: str, point: str, cases: dict[str, Case], tmp_path: Path) -> None:
    kill_at_point(cases[kind], tmp_path / "run", point)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "point"), SLOW_POINTS, ids=[f"{k}-{p}" for k, p in SLOW_POINTS])
def test_kill_at_every_crash_point(kind: str, point: str, cases: dict[str, Case], tmp_path: Path) -> None:
    kill_at_point(cases[kind], tmp_path / "run", point)


def test_kill_before_the_job_starts(cases: dict[str, Case], tmp_path: Path) -> None:
    """The job is in the log (queued, no pid yet) and dies before it takes the lock."""
    work = copy_project(cases["update"].template, tmp_path / "run")
    point = ("asemic_core.storage.lock", "WriterLock", "acquire", "before", 1, "old")
    assert crash_at(work, point, ["--project", str(work), "model", "update"]) == -signal.SIGKILL
    job = Project(work).jobs(1)[0]
    assert job.kind == "update"
    assert job.status == "interrupted", f"the killed job {job.id} is {job.status!r} (pid {job.pid})"


def test_the_catalog_stays_readable_after_a_kill_after_the_commit(cases: dict[str, Case], tmp_path: Path) -> None:
    import duckdb

    work = copy_project(cases["update"].template, tmp_path / "run")
    point = POINTS["before-finish"]
    assert crash_at(work, point, ["--project", str(work), "model", "update"]) == -signal.SIGKILL
    check_readable(work)  # through asemic: fine
    with duckdb.connect(str(Project(work).model_dir() / "catalog.duckdb"), read_only=True) as con:
        con.sql("SELECT count(*) FROM asemic_model.daily").fetchall()


def test_a_dead_job_whose_pid_was_reused_is_interrupted(cases: dict[str, Case], tmp_path: Path) -> None:
    import sqlite3

    work = copy_project(cases["update"].template, tmp_path / "run")
    assert crash_at(work, POINTS["before-publish"], ["--project", str(work), "model", "update"]) == -signal.SIGKILL
    store = Project(work).model_store()
    job = store.jobs.list(1)[0]
    assert job.status == "running"
    other = subprocess.Popen(["sleep", "60"])  # the pid the machine gave another process after a reboot
    try:
        with sqlite3.connect(store.state.path) as con:
            con.execute("UPDATE jobs SET pid = ? WHERE id = ?", (other.pid, job.id))
        con.close()
        assert store.lock.holder() is None
        assert Project(work).job(job.id)[0].status == "interrupted"
    finally:
        other.kill()
        other.wait()
