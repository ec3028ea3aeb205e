"""The job commands of ``asemic-cli``, in-process (``main([...])`` + capsys): plans that
print days, tables, columns and reasons and change nothing (and agree with what the job
then does), refused arguments (exit 1, a clear message, nothing changed), the job log
(list, show, text and json), and ``scheduler --once`` (due, not due, busy, a failing run
logged and retried at the next tick).

The project is a small demo (300 users over 30 days) whose model was refreshed when the
warehouse ended on day 24; the warehouse now holds all 30 days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest
from jobs_support import copy_project, day, make_demo, truncate_warehouse

from asemic_core.cli import main
from asemic_core.project import Project

WATERMARK = day(24)
LAST = day(29)


@pytest.fixture(scope="module")
def behind(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli-jobs")
    base = make_demo(tmp / "base", users=300, days=30, seed=3)
    root = copy_project(base, tmp / "behind")
    truncate_warehouse(root, WATERMARK)
    Project(root).refresh(origin="test")
    (root / "warehouse.duckdb").write_bytes((base / "warehouse.duckdb").read_bytes())
    return root


@pytest.fixture
def project(behind: Path, tmp_path: Path) -> Path:
    return copy_project(behind, tmp_path / "project")


def cli(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--project", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def tree_hash(root: Path) -> dict[str, str]:
    """sha256 of every file under the project (model, warehouse, config); SQLite files by
    their content (an SQL dump): opening one in WAL mode may create or drop its -wal/-shm."""
    out = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if not path.is_file() or name.endswith(("-wal", "-shm")):
            continue
        if path.suffix == ".sqlite":
            con = sqlite3.connect(path)
            try:
                out[name] = hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
            finally:
                con.close()
        else:
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def plan_json(capsys, root: Path, *args: str) -> dict:
    code, out, err = cli(capsys, root, "model", "plan", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def job_days(root: Path, job_id: str) -> list[str]:
    _job, days, _phases = Project(root).job(job_id)
    return [d for d, _rows, _seconds in days]


# ------------------------------------------------------------------------------- plans


def test_plans_print_days_tables_columns_and_reasons_and_change_nothing(capsys, project: Path) -> None:
    before = tree_hash(project)
    jobs_before = len(Project(project).jobs())

    code, out, err = cli(capsys, project, "model", "plan", "refresh")
    assert code == 0, err
    assert f"refresh: 30 day(s) from {day(0)} to {LAST}" in out
    assert "why: refresh rebuilds every materialized day and every column" in out
    assert re.search(r"table daily: 30 partition\(s\), \d+ column\(s\), ~[\d,]+ rows", out), out
    assert re.search(r"table users: 1 partition\(s\)", out), out
    # the sparse daily table stores each user's change days; user_state is what updates read
    assert re.search(r"table daily: .*each user's change days of [\d,]+ user-days", out), out
    assert re.search(r"table user_state: 1 partition\(s\), 2 column\(s\).*last activity day as of", out), out
    assert re.search(r"columns: entity_id, date, .*dau_active.*lifetime_revenue", out), out

    code, out, err = cli(capsys, project, "model", "plan", "update")
    assert code == 0, err
    assert re.search(rf"update: \d+ day\(s\) from \d{{4}}-\d\d-\d\d to {LAST}", out), out
    assert f"why: new days {day(25)} .. {LAST} (after the watermark {WATERMARK})" in out
    assert f"why: lookback_days: 3: re-materialize {day(22)} .. {WATERMARK} for late events" in out
    assert "table daily" in out and "columns: entity_id, date," in out and "table user_state" in out

    code, out, err = cli(capsys, project, "model", "plan", "update", "--kpi", "dau")
    assert code == 0, err
    assert f"update (partial): 25 day(s) from {day(0)} to {WATERMARK}" in out
    assert "property dau_active: needed by the request" in out
    assert re.search(r"table daily: 25 partition\(s\), \d+ column\(s\)", out), out

    code, out, err = cli(capsys, project, "model", "plan", "update", "--property", "lifetime_revenue")
    assert code == 0, err
    assert "property lifetime_revenue: needed by the request" in out and "property dau_active" not in out

    code, out, err = cli(capsys, project, "model", "plan", "rewind", "--from", day(10).isoformat(),
                         "--to", day(12).isoformat())
    assert code == 0, err
    assert f"rewind: 15 day(s) from {day(10)} to {WATERMARK}" in out
    assert f"why: requested: {day(10)} .. {day(12)}" in out
    assert re.search(rf"why: lifetime values.* carry forward: {day(13)} \.\. {WATERMARK}", out), out
    assert re.search(r"table daily: 15 partition\(s\)", out), out
    assert "table user_state" in out

    for args in (["refresh"], ["update"], ["update", "--kpi", "revenue"], ["rewind", "--from", day(3).isoformat(),
                                                                           "--to", day(3).isoformat()]):
        plan = plan_json(capsys, project, *args)
        assert plan["reasons"] and plan["tables"] and all(t["columns"] and t["days"] for t in plan["tables"])

    assert tree_hash(project) == before, "a plan changed files of the project"
    assert len(Project(project).jobs()) == jobs_before, "a plan was logged as a job"


def test_the_plan_lists_the_days_the_job_then_writes(capsys, project: Path) -> None:
    plan = plan_json(capsys, project, "update")
    daily = [t for t in plan["tables"] if t["name"] == "daily"]
    assert len(daily) == 1
    code, out, err = cli(capsys, project, "model", "update")
    assert code == 0, err
    job_id = re.search(r"Job (update-\w+) succeeded", out).group(1)
    assert job_days(project, job_id) == daily[0]["days"]

    plan = plan_json(capsys, project, "rewind", "--from", day(5).isoformat(), "--to", day(6).isoformat())
    code, out, err = cli(capsys, project, "model", "rewind", "--from", day(5).isoformat(), "--to", day(6).isoformat())
    assert code == 0, err
    job_id = re.search(r"Job (rewind-\w+) succeeded", out).group(1)
    assert job_days(project, job_id) == plan["tables"][0]["days"]


# ---------------------------------------------------------------------- refused arguments


@pytest.mark.parametrize(("args", "message"), [
    (["model", "update", "--kpi", "no_such_kpi"], "error: unknown KPI 'no_such_kpi'"),
    (["model", "update", "--kpi", "dau", "--kpi", "retention_d99"], "error: unknown KPI 'retention_d99'"),
    (["model", "update", "--property", "no_such_property"], "error: unknown property 'no_such_property'"),
    (["model", "plan", "update", "--kpi", "no_such_kpi"], "error: unknown KPI 'no_such_kpi'"),
])
def test_update_of_an_unknown_kpi_or_property_is_refused(capsys, project: Path, args: list[str], message: str) -> None:
    before = tree_hash(project)
    jobs_before = len(Project(project).jobs())
    code, out, err = cli(capsys, project, *args)
    assert code == 1
    assert message in err
    assert "Traceback" not in err
    assert tree_hash(project) == before
    assert len(Project(project).jobs()) == jobs_before  # refused before anything is queued


@pytest.mark.parametrize(("first", "last", "message"), [
    (12, 10, f"error: --from {day(12)} is after --to {day(10)}"),
    (30, 40, f"error: {day(30)} .. {day(40)} is outside the materialized days {day(0)} .. {WATERMARK}"),
    (-9, -2, f"error: {day(-9)} .. {day(-2)} is outside the materialized days {day(0)} .. {WATERMARK}"),
])
@pytest.mark.parametrize("command", [["model", "rewind"], ["model", "plan", "rewind"]])
def test_rewind_of_a_bad_range_is_refused(capsys, project: Path, command: list[str], first: int, last: int,
                                          message: str) -> None:
    before = {k: v for k, v in tree_hash(project).items() if "state.sqlite" not in k}  # the job log changes
    code, out, err = cli(capsys, project, *command, "--from", day(first).isoformat(), "--to", day(last).isoformat())
    assert code == 1
    assert message in err, err
    assert {k: v for k, v in tree_hash(project).items() if "state.sqlite" not in k} == before
    status = Project(project).status()
    assert (status.first_day, status.watermark) == (day(0).isoformat(), WATERMARK.isoformat())
    jobs = Project(project).jobs()
    assert jobs[0].kind == "refresh" or jobs[0].status == "failed"


def test_rewind_with_an_impossible_date_is_a_usage_error(capsys, project: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--project", str(project), "model", "rewind", "--from", "2026-02-30", "--to", "2026-03-01"])
    assert stop.value.code == 2
    assert "invalid date '2026-02-30'" in capsys.readouterr().err


# --------------------------------------------------------------------------------- the log


def test_jobs_list_and_show(capsys, project: Path) -> None:
    code, out, err = cli(capsys, project, "model", "update")
    assert code == 0, err
    update_id = re.search(r"Job (update-\w+) succeeded: ([\d,]+) rows over (\d+) days", out)
    job_id, rows, days = update_id.group(1), int(update_id.group(2).replace(",", "")), int(update_id.group(3))
    refresh_id = [j.id for j in Project(project).jobs() if j.kind == "refresh"][0]

    code, out, err = cli(capsys, project, "jobs", "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(job_id) and lines[1].startswith(refresh_id)  # newest first
    for line, kind, origin in ((lines[0], "update", "cli"), (lines[1], "refresh", "test")):
        assert re.match(rf"\S+\s+{kind}\s+succeeded\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+\.\ds\s+{origin}", line), line

    code, out, err = cli(capsys, project, "jobs", "list", "--format", "json")
    listed = json.loads(out)
    assert [j["id"] for j in listed] == [job_id, refresh_id]
    assert [j["status"] for j in listed] == ["succeeded", "succeeded"]
    assert [j["duration"] for j in listed] == [pytest.approx(j["finished_at"] - j["started_at"]) for j in listed]

    code, out, err = cli(capsys, project, "jobs", "show", job_id)
    assert code == 0, err
    assert out.startswith(f"Job {job_id}: update ")
    assert "Status: succeeded (100%)" in out
    assert re.search(r"^  compute_and_write\s+\d+\.\d\ds$", out, re.M), out
    day_rows = re.findall(r"^  (\d{4}-\d\d-\d\d)\s+([\d,]+) rows\s+(\d+\.\d{3})s$", out, re.M)
    assert len(day_rows) == days and sum(int(r.replace(",", "")) for _d, r, _s in day_rows) == rows
    assert [d for d, _r, _s in day_rows][-1] == LAST.isoformat()

    code, out, err = cli(capsys, project, "jobs", "show", job_id, "--format", "json")
    shown = json.loads(out)
    assert shown["id"] == job_id and shown["status"] == "succeeded"
    assert shown["duration"] == pytest.approx(shown["finished_at"] - shown["started_at"])
    assert [d["day"] for d in shown["days"]] == [d for d, _r, _s in day_rows]
    assert sum(d["rows"] for d in shown["days"]) == rows and all(d["seconds"] >= 0 for d in shown["days"])
    assert "compute_and_write" in shown["phases"]

    code, out, err = cli(capsys, project, "jobs", "show", "update-nonexistent")
    assert code == 1 and "no job 'update-nonexistent'" in err


# ---------------------------------------------------------------------------- scheduler


def age_the_job_log(root: Path, seconds: float) -> None:
    """Pretend every job finished ``seconds`` earlier (the CLI's scheduler uses the real clock)."""
    with sqlite3.connect(Project(root).model_store().state.path) as con:
        con.execute("UPDATE jobs SET created_at = created_at - ?, started_at = started_at - ?, "
                    "finished_at = finished_at - ?", (seconds, seconds, seconds))
    con.close()


def test_scheduler_once(capsys, project: Path) -> None:
    two_days = 2 * 86400
    age_the_job_log(project, two_days)
    code, out, err = cli(capsys, project, "scheduler", "--once")
    assert code == 0, err
    assert re.match(r"ran \(update-\w+\): [\d,]+ rows over \d+ day\(s\); next run \d{4}-", out), out
    latest = Project(project).jobs(1)[0]
    assert (latest.kind, latest.origin, latest.status) == ("update", "scheduler", "succeeded")
    assert Project(project).status().watermark == LAST.isoformat()

    code, out, err = cli(capsys, project, "scheduler", "--once")
    assert code == 0 and out.startswith("not due: "), out
    assert len(Project(project).jobs()) == 2

    # The lock is held: the tick says so and runs nothing.
    age_the_job_log(project, two_days)
    store = Project(project).model_store()
    store.lock.acquire("update-held-by-test")
    try:
        code, out, err = cli(capsys, project, "scheduler", "--once")
        assert code == 0 and out.startswith("busy: job update-held-by-test is running"), out
    finally:
        store.lock.release()

    # The warehouse is gone: the run fails, is logged as failed, and the next tick retries.
    warehouse = project / "warehouse.duckdb"
    hidden = warehouse.rename(project / "warehouse.away")
    for _attempt in range(2):
        code, out, err = cli(capsys, project, "scheduler", "--once")
        assert code == 1, out
        assert re.match(r"failed \(update-\w+\): .*warehouse", out), out
        failed = Project(project).jobs(1)[0]
        assert (failed.kind, failed.origin, failed.status) == ("update", "scheduler", "failed")
        assert failed.id in out
        assert Project(project).model_store().state.meta("scheduler")["status"] == "failed"
    hidden.rename(warehouse)
    code, out, err = cli(capsys, project, "scheduler", "--once")
    assert code == 0 and out.startswith("ran (update-"), out
    statuses = [(j.origin, j.status) for j in Project(project).jobs()]
    assert statuses[:3] == [("scheduler", "succeeded"), ("scheduler", "failed"), ("scheduler", "failed")]
    next_run = Project(project).model_store().state.meta("scheduler")["next_run"]
    assert next_run > dt.datetime.now().timestamp() + 86400 - 600
