"""ARCHITECTURE "Storage", guarantees 1 and 3: readers in other processes keep working
and see consistent data while a job runs; two jobs never write at once (the second is
refused with a message naming the running job); the lock of a killed job is recovered.

The project is the demo (3000 users over 60 days) whose model was built when the
warehouse ended on day 53, with all 60 days in the warehouse now: a refresh or an
update changes the model (new days, and the lookback days of the update).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobs_support import (
    REPO,
    copy_project,
    day,
    differing_days,
    env,
    job_args,
    partitions,
    run_cli,
    start_cli,
    start_hooked,
    wait_for,
)

from asemic_core.errors import JobError
from asemic_core.project import Project

QUERIES = {"dau": (day(0), day(59)), "revenue": (day(40), day(59)), "mau": (day(45), day(59))}

READER = r"""
import datetime as dt, json, os, sys, time
from asemic_core.project import Project
from asemic_core.query.kpi import KpiRequest

root, out, stop, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
project = Project(root)
shared = None
with open(out, "w") as handle:
    iteration = 0
    while not os.path.exists(stop):
        iteration += 1
        began = time.time()
        record = {"began": began}
        try:
            # Every other round reuses one source (the app's way), the others open a new one.
            if iteration % 2 and shared is None:
                shared = project.source()
            source = shared if iteration % 2 else project.source()
            for kpi, (first, last) in spec.items():
                result = project.kpi_query(KpiRequest(kpi, dt.date.fromisoformat(first), dt.date.fromisoformat(last)),
                                           source=source)
                record[kpi] = [[str(x), v] for x, v in result.points.select(["date", "value"]).iter_rows()]
            if source is not shared:
                source.close()
        except Exception as err:  # noqa: BLE001 - every error is a finding
            record["error"] = f"{type(err).__name__}: {err}"
        record["ended"] = time.time()
        handle.write(json.dumps(record) + "\n")
        handle.flush()
"""


def query_all(root: Path) -> dict[str, list]:
    from asemic_core.query.kpi import KpiRequest

    project = Project(root)
    source = project.source()
    try:
        return {kpi: [[str(x), v] for x, v in project.kpi_query(KpiRequest(kpi, first, last), source=source)
                      .points.select(["date", "value"]).iter_rows()]
                for kpi, (first, last) in QUERIES.items()}
    finally:
        source.close()


def same_points(left: list, right: list) -> bool:
    if len(left) != len(right):
        return False
    for (x1, v1), (x2, v2) in zip(left, right, strict=True):
        if x1 != x2 or (v1 is None) != (v2 is None):
            return False
        if v1 is not None and not math.isclose(v1, v2, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_with_reader(project_root: Path, tmp: Path, job: list[str]) -> tuple[list[dict], float, float]:
    """Run ``job`` in a subprocess while a reader process queries in a loop; the reader's
    records and the job's start and end times."""
    out, stop = tmp / "reads.jsonl", tmp / "stop"
    spec = {k: [a.isoformat(), b.isoformat()] for k, (a, b) in QUERIES.items()}
    errors = tmp / "reader.err"
    with errors.open("wb") as stderr:
        reader = subprocess.Popen([sys.executable, "-c", READER, str(project_root), str(out), str(stop),
                                   json.dumps(spec)], env=env(), cwd=REPO, stderr=stderr)
    try:
        wait_for(lambda: out.exists() and len(read_records(out)) >= 1, timeout=120)
        began = time.time()
        finished = subprocess.run(job, env=env(), cwd=REPO, capture_output=True, text=True, timeout=300)
        ended = time.time()
        assert finished.returncode == 0, finished.stdout + finished.stderr
        wait_for(lambda: any(r["began"] > ended for r in read_records(out)), timeout=120)
    finally:
        stop.touch()
        reader.wait(timeout=120)
    assert reader.returncode == 0, errors.read_text()
    return read_records(out), began, ended


@pytest.mark.parametrize("kind", ["refresh", "update"])
def test_reads_during_a_job_are_consistent(kind: str, demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.behind, tmp_path / "project")
    before = query_all(root)
    records, began, ended = run_with_reader(
        root, tmp_path, [sys.executable, "-m", "asemic_core.cli", "--project", str(root), *job_args(kind)])
    after = query_all(root)
    assert before != after, "the job changed nothing: the test would prove nothing"
    errors = [r["error"] for r in records if "error" in r]
    assert errors == [], f"reads failed while the job ran: {errors[:3]}"
    during = [r for r in records if r["ended"] > began and r["began"] < ended]
    assert during, "no read overlapped the job"
    for record in records:
        for kpi in QUERIES:
            assert same_points(record[kpi], before[kpi]) or same_points(record[kpi], after[kpi]), (
                f"{kpi} read at {record['began'] - began:+.2f}s (job {ended - began:.2f}s) is neither the value "
                f"before nor after the job:\n{record[kpi]}\nbefore {before[kpi]}\nafter {after[kpi]}")
    # The last reads (after the job) see the new model.
    assert all(same_points(records[-1][k], after[k]) for k in QUERIES)


def test_reads_while_the_new_partitions_wait_for_their_commit(demo_states, tmp_path: Path) -> None:
    """The job's new files are all in place, the registry swap has not happened: readers
    see only the old model; once it commits they see the new one."""
    root = copy_project(demo_states.behind, tmp_path / "project")
    before = query_all(root)
    gate = tmp_path / "gate"
    job = start_hooked(root, ["model", "update"], ("asemic_core.storage.store", "ModelStore", "publish", "before", 1),
                       gate=gate)
    try:
        wait_for(lambda: Path(f"{gate}.reached").exists() or job.poll() is not None, timeout=300)
        assert job.poll() is None
        for _ in range(3):
            assert all(same_points(v, before[k]) for k, v in query_all(root).items())
    finally:
        gate.touch()
    assert job.wait(timeout=300) == 0
    after = query_all(root)
    assert not all(same_points(after[k], before[k]) for k in QUERIES)


def hold_a_job(root: Path, tmp: Path, args: list[str] | None = None) -> tuple[subprocess.Popen, Path, str]:
    """A job that runs until ``gate`` exists (it waits just before its commit); its id."""
    gate = tmp / "gate"
    job = start_hooked(root, args or ["model", "refresh"],
                       ("asemic_core.storage.store", "ModelStore", "publish", "before", 1), gate=gate)
    wait_for(lambda: Path(f"{gate}.reached").exists() or job.poll() is not None, timeout=300)
    assert job.poll() is None, "the held job ended early"
    running = [j for j in Project(root).jobs() if j.status == "running"]
    assert len(running) == 1
    return job, gate, running[0].id


def test_a_second_job_is_refused_naming_the_running_one(demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.behind, tmp_path / "project")
    job, gate, running = hold_a_job(root, tmp_path)
    try:
        for args in (["model", "update"], ["model", "refresh"], ["model", "rewind", "--from", day(3).isoformat(),
                                                                 "--to", day(4).isoformat()]):
            refused = run_cli(root, *args)
            assert refused.returncode == 1, refused.stdout + refused.stderr
            assert running in refused.stderr, refused.stderr
        with pytest.raises(JobError, match=running):
            Project(root).update(origin="test")
        with pytest.raises(JobError, match=running):
            Project(root).update(properties=["dau_active"], origin="test")
        status = Project(root).status()
        assert status.running_job == running
    finally:
        gate.touch()
    assert job.wait(timeout=300) == 0
    jobs = Project(root).jobs()
    assert [j.status for j in jobs if j.id == running] == ["succeeded"]
    refused_jobs = [j for j in jobs if j.id != running and j.created_at > jobs[-1].created_at]
    assert refused_jobs and all(j.status == "failed" and running in (j.error or "") for j in refused_jobs)
    # The refused jobs changed nothing: the held refresh's result is the clean one.
    assert differing_days(partitions(root), partitions(demo_states.clean)) == []


def test_the_lock_of_a_killed_job_is_recovered(demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.behind, tmp_path / "project")
    job, _gate, running = hold_a_job(root, tmp_path, ["model", "update"])
    os.kill(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    lock = Project(root).model_store().lock
    assert lock.path.read_text().strip() == running  # the file stays behind, with the dead job's id
    assert lock.holder() is None
    done = run_cli(root, "model", "update")
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {j.id: j for j in Project(root).jobs()}
    assert jobs[running].status == "interrupted"
    assert Project(root).jobs(1)[0].status == "succeeded"
    # In-process too, right after a killed CLI job.
    again = tmp_path / "again"
    again.mkdir()
    job, _gate, running = hold_a_job(root, again, ["model", "refresh"])
    os.kill(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    Project(root).refresh(origin="test")
    assert {j.id: j.status for j in Project(root).jobs()}[running] == "interrupted"


def test_a_job_started_while_another_runs_in_process_is_refused(demo_states, tmp_path: Path) -> None:
    """Two writers in one process (the app's threads): the second is refused too."""
    root = copy_project(demo_states.behind, tmp_path / "project")
    project = Project(root)
    store = project.model_store()
    store.lock.acquire("refresh-held-by-test")
    try:
        with pytest.raises(JobError, match="refresh-held-by-test"):
            project.update(origin="test")
        done = start_cli(root, *job_args("update"))
        assert done.wait(timeout=300) == 1
    finally:
        store.lock.release()
    project.update(origin="test")


# ------------------------------------------------------------- a commit inside one request


def test_a_query_planned_before_a_vacuum_is_replanned(demo_states, tmp_path: Path) -> None:
    """A job publishes and a vacuum deletes the files of the version a read was planned on,
    between the planning of the read and its execution: the read is planned again on the
    new version and never fails."""
    from asemic_core.query.kpi import KpiRequest

    root = copy_project(demo_states.behind, tmp_path / "project")
    project = Project(root)
    source = project.source()
    original, calls = source.plan, []

    def plan(*args, **kwargs):
        planned = original(*args, **kwargs)
        if not calls:
            calls.append(planned)
            project.update(origin="test")  # publishes a new version
            project.vacuum(0, origin="test")  # deletes the files only the old version used
        return planned

    source.plan = plan
    try:
        result = project.kpi_query(KpiRequest("dau", *QUERIES["dau"]), source=source)
        values = project.property_values("lifetime_revenue", day(50), day(59), source=source)
    finally:
        source.close()
    assert not all(Path(f).exists() for f in calls[0].files), "the vacuum removed no file the read planned on"
    assert same_points([[str(x), v] for x, v in result.points.select(["date", "value"]).iter_rows()],
                       query_all(root)["dau"])
    assert values["date"].max() == day(59)


def test_a_query_planned_before_a_publish_reads_the_version_it_pinned(demo_states, tmp_path: Path) -> None:
    """A job publishes between the planning of a read and its execution: the read returns
    the whole version it pinned (the files of a version never change)."""
    from asemic_core.query.kpi import KpiRequest

    root = copy_project(demo_states.behind, tmp_path / "project")
    project = Project(root)
    before = query_all(root)
    source = project.source()
    original, calls = source.plan, []

    def plan(*args, **kwargs):
        planned = original(*args, **kwargs)
        if not calls:
            calls.append(planned)
            project.update(origin="test")
        return planned

    source.plan = plan
    try:
        result = project.kpi_query(KpiRequest("dau", *QUERIES["dau"]), source=source)
    finally:
        source.close()
    points = [[str(x), v] for x, v in result.points.select(["date", "value"]).iter_rows()]
    assert same_points(points, before["dau"]) and not same_points(points, query_all(root)["dau"])


def test_a_grouped_kpi_result_comes_from_one_snapshot(demo_states, tmp_path: Path) -> None:
    from asemic_core.query.kpi import KpiRequest

    root = copy_project(demo_states.behind, tmp_path / "project")
    project = Project(root)
    request = KpiRequest("dau", *QUERIES["dau"], by=["platform"])

    def query(source=None):
        own = source is None
        source = source or project.source()
        try:
            return project.kpi_query(request, source=source)
        finally:
            if own:
                source.close()

    before = query()
    source = project.source()
    original, calls = source.run_many, []

    def run_many(build_sqls):
        def planned_then_a_job_commits():
            statements = build_sqls()
            if not calls:
                calls.append(1)
                project.update(origin="test")  # a job commits after the request was planned
            return statements

        return original(planned_then_a_job_commits)

    source.run_many = run_many
    try:
        mixed = query(source)
    finally:
        source.close()
    after = query()
    assert not before.points.equals(after.points) and before.total != after.total
    consistent = [version for version, result in (("before", before), ("after", after))
                  if mixed.points.equals(result.points) and mixed.totals.equals(result.totals)
                  and math.isclose(mixed.total, result.total, rel_tol=1e-9)]
    assert consistent, (f"points and totals of one model version, overall total of another: "
                        f"total {mixed.total} (before {before.total}, after {after.total})")


# ------------------------------------------------------------------- probing the lock

PROBE = r"""
import sys, time
from pathlib import Path
from asemic_core.storage.lock import WriterLock
lock, seconds, ready = WriterLock(Path(sys.argv[1])), float(sys.argv[2]), Path(sys.argv[3])
ready.touch()
end = time.monotonic() + seconds
while time.monotonic() < end:
    lock.holder()  # what status(), jobs(), the scheduler's tick and every job start do
"""


def test_probing_the_lock_never_refuses_a_job(tmp_path: Path) -> None:
    from asemic_core.storage.lock import WriterLock

    path, ready = tmp_path / "writer.lock", tmp_path / "ready"
    probe = subprocess.Popen([sys.executable, "-c", PROBE, str(path), "3", str(ready)], env=env(), cwd=REPO)
    refused, attempts = [], 0
    try:
        wait_for(ready.exists, timeout=60)
        lock = WriterLock(path)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and probe.poll() is None:
            attempts += 1
            try:
                lock.acquire(f"job-{attempts}")
            except JobError as err:
                refused.append(err.message)
                continue
            lock.release()
    finally:
        assert probe.wait(timeout=60) == 0
    assert refused == [], f"{len(refused)} of {attempts} job starts refused while no job ran: {refused[0]}"


def test_a_job_starting_while_the_log_is_read_is_not_marked_interrupted(demo_states, tmp_path: Path) -> None:
    root = copy_project(demo_states.behind, tmp_path / "project")
    store = Project(root).model_store()
    assert store.lock.holder() is None  # no job runs yet ...
    job, gate, running = hold_a_job(root, tmp_path, ["model", "update"])  # ... a job starts ...
    try:
        # ... the log is read: the holder is asked for only after the rows (a function, not a value)
        store.jobs.mark_interrupted(store.lock.holder)
        assert store.jobs.get(running).status == "running"
    finally:
        gate.touch()
        job.wait(timeout=300)
