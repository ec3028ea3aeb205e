"""Model versions as a feature: every job publishes one numbered version; ``model history``
lists them with the job that made each; ``model restore N`` republishes version N as a
new version (so a restore can be undone); ``model vacuum`` deletes the files no kept
version references. And the isolation they rest on: a reader in another process, while
any kind of job runs, only ever reads a whole published version.

The project is the demo (3000 users over 60 days) built when the warehouse ended on day
53 (version 1); an update brings in the rest (version 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from jobs_support import (
    ACTIVITY_EDITED,
    REPO,
    change_warehouse,
    EDITED,
    copy_project,
    day,
    differing_days,
    edit_activity_property,
    edit_property,
    env,
    partitions,
    run_cli,
    same,
    table_frame,
    unregistered_files,
    wait_for,
)

from asemic_core.project import Project
from asemic_core.storage.store import DAILY, NO_ORPHANS, USER_STATE, USERS

@pytest.fixture(scope="module")
def two_versions(demo_states, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The behind project, refreshed (version 1) then updated (version 2)."""
    root = copy_project(demo_states.behind, tmp_path_factory.mktemp("versions") / "project")
    Project(root).update(origin="test")
    return root


def test_history_lists_each_version_with_its_job(two_versions: Path, tmp_path: Path) -> None:
    root = copy_project(two_versions, tmp_path / "project")
    done = run_cli(root, "model", "history", "--format", "json")
    assert done.returncode == 0, done.stderr
    history = json.loads(done.stdout)
    assert [v["version"] for v in history] == [2, 1]
    assert [v["kind"] for v in history] == ["update", "refresh"]
    jobs = {j.id: j for j in Project(root).jobs()}
    for entry in history:
        job = jobs[entry["job_id"]]
        assert job.kind == entry["kind"] and job.status == "succeeded"
        assert entry["rows"] > 0 and entry["duration"] >= 0 and entry["restorable"]
        assert "dau_active" in entry["columns"]
    refresh, update = history[1], history[0]
    assert refresh["range"] == [day(0).isoformat(), day(53).isoformat()]
    assert update["range"][1] == day(59).isoformat() and update["range"][0] <= day(54).isoformat()
    # The rows a job wrote are the rows of the logical model on the days it replaced: every
    # user registered by a day, on that day (the sparse layout stores fewer).
    users = table_frame(root, USERS, 1)
    last = day(53)
    user_days = sum((last - max(r, day(0))).days + 1 for r in users["registration_date"].to_list() if r <= last)
    assert refresh["rows"] == user_days
    assert table_frame(root, DAILY, 1).height < user_days
    text = run_cli(root, "model", "history")
    assert text.returncode == 0 and "(published)" in text.stdout.splitlines()[0]


def _views(catalog: Path) -> list[tuple]:
    with duckdb.connect(str(catalog), read_only=True) as con:
        return con.sql("SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY 1, 2").fetchall()


def test_a_job_writes_the_views_file_through_its_connection_as_a_connection_of_its_own_would(
        two_versions: Path, tmp_path: Path) -> None:
    root = copy_project(two_versions, tmp_path / "project")
    project = Project(root)
    catalog = project.model_dir() / "catalog.duckdb"
    project.rewind(day(50), day(52), origin="test")  # the job attaches the new file to its connection
    written_by_job = _views(catalog)
    assert [(schema, name) for schema, name, _sql in written_by_job] == [
        ("asemic_model", "daily"), ("asemic_model", "daily_stored"), ("asemic_model", "users")]
    assert not list(project.model_dir().glob(".catalog.duckdb.*")), "the new views file was left aside"
    with duckdb.connect(str(catalog), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM asemic_model.daily").fetchall()[0][0] == project.status().rows
        assert con.sql("SELECT count(*) FROM asemic_model.users").fetchall()[0][0] == table_frame(root, USERS).height
    project.write_catalog()  # on a DuckDB connection of its own
    assert _views(catalog) == written_by_job


def test_restore_republishes_a_version_and_can_be_undone(two_versions: Path, demo_states, tmp_path: Path) -> None:
    root = copy_project(two_versions, tmp_path / "project")
    project = Project(root)
    v1, v2 = partitions(root, version=1), partitions(root, version=2)
    assert differing_days(v1, v2), "the two versions hold the same data: the test would prove nothing"

    done = run_cli(root, "model", "restore", "1")
    assert done.returncode == 0, done.stderr
    assert project.history(1)[0].version == 3 and project.history(1)[0].restored_from == 1
    assert differing_days(partitions(root), v1) == []
    assert same(table_frame(root, USERS), table_frame(root, USERS, 1), exact=True)
    assert project.status().watermark == day(53).isoformat()

    project.restore(2, origin="test")  # undo the restore
    assert differing_days(partitions(root), v2) == []
    assert project.status().watermark == day(59).isoformat()

    project.restore(1, origin="test")  # the next job works from the restored version
    project.update(origin="test")
    assert differing_days(partitions(root), partitions(demo_states.clean)) == []
    assert [v.kind for v in project.history()] == ["update", "restore", "restore", "restore", "update", "refresh"]
    assert unregistered_files(root) == []


def test_restore_of_an_unknown_version_is_refused(two_versions: Path, tmp_path: Path) -> None:
    root = copy_project(two_versions, tmp_path / "project")
    for argument, message in (("9", "no model version 9"), ("zero", "not a version number"), ("0", "numbered from 1")):
        done = run_cli(root, "model", "restore", argument)
        assert done.returncode != 0 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert [v.version for v in Project(root).history()] == [2, 1]


def _data_files(root: Path) -> set[str]:
    tables = Project(root).model_store().tables.root
    return {str(p) for p in tables.rglob("*.parquet") if "_delta_log" not in p.parts}


def test_a_job_after_a_killed_one_removes_its_files_and_a_clean_publish_spares_the_next_walk(
        two_versions: Path, tmp_path: Path) -> None:
    root = copy_project(two_versions, tmp_path / "project")
    project = Project(root)
    marker = project.model_dir() / NO_ORPHANS
    assert marker.exists(), "the update collected garbage and published: no file was left"
    files_before = _data_files(root)
    # A job starts (it takes the marker away) and is killed after writing a data file.
    killed = project.model_store()
    killed.collect_garbage()
    assert not marker.exists()
    left = killed.tables.root / DAILY / f"date={day(40).isoformat()}" / "part-killed.parquet"
    left.write_bytes(b"not committed")
    # A restore writes no data file and collects nothing: it leaves the tables as they are.
    project.restore(1, origin="test")
    assert left.exists() and not marker.exists()
    # The next job walks the tables: the killed job's file goes, the published files stay.
    project.rewind(day(50), day(55), origin="test")
    assert not left.exists()
    assert files_before <= _data_files(root) and marker.exists()
    # With the marker, the next job does not walk them (a file nothing wrote is not looked for).
    stray = killed.tables.root / DAILY / "part-stray.parquet"
    stray.write_bytes(b"planted")
    assert project.model_store().collect_garbage() == 0 and stray.exists() and not marker.exists()
    assert project.model_store().collect_garbage() == 1 and not stray.exists()


def test_vacuum_keeps_recent_versions_and_removes_the_rest(two_versions: Path, tmp_path: Path) -> None:
    root = copy_project(two_versions, tmp_path / "project")
    project = Project(root)
    project.restore(1, origin="test")  # version 3: the data of version 1
    v1, v2 = partitions(root, version=1), partitions(root, version=2)
    files_before = _data_files(root)

    done = run_cli(root, "model", "vacuum")  # default: keep the last 7 days, here every version
    assert done.returncode == 0, done.stderr
    assert _data_files(root) == files_before
    assert all(v.to_dict()["restorable"] for v in project.history())
    project.restore(2, origin="test")  # version 4
    assert differing_days(partitions(root), v2) == []

    done = run_cli(root, "model", "vacuum", "--keep-days", "0")
    assert done.returncode == 0, done.stderr
    store = project.model_store()
    published = {f.path for table in store.current().tables for f in store.snapshot(table).files}
    assert set(store.current().tables) == {DAILY, USERS, USER_STATE}
    assert _data_files(root) == published, "files of forgotten versions are left, or files of the published one gone"
    assert differing_days(partitions(root), v2) == []
    assert [v.to_dict()["restorable"] for v in project.history()] == [True, False, False, False]

    refused = run_cli(root, "model", "restore", "1")
    assert refused.returncode == 1 and "vacuumed" in refused.stderr, refused.stderr
    assert len(project.history()) == 4
    assert differing_days(partitions(root), v2) == []
    assert differing_days(v1, v2)
    # The views file still lists the published files.
    with duckdb.connect(str(project.model_dir() / "catalog.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM asemic_model.daily").fetchall()[0][0] == project.status().rows
    project.update(origin="test")  # jobs go on after a vacuum
    assert differing_days(partitions(root), v2) == []


# ------------------------------------------------------- readers see whole versions only

READER = r"""
import json, os, sys
import duckdb
from asemic_core.backend.duckdb_executor import DuckDBExecutor
from asemic_core.project import Project

root, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
store = Project(root).model_store()
con = duckdb.connect()
with open(out, "w") as handle:
    while not os.path.exists(stop):
        current = store.current()
        record = {"version": current.version if current else None}
        try:
            for table in ("daily", "users"):
                snapshot = store.snapshot(table, current)  # the daily table with its column tables' values
                relation = DuckDBExecutor(con).relation(snapshot).sql("duckdb")
                columns = ", ".join('"' + c + '"' for c in sorted(snapshot.columns))
                record[table] = con.sql(f"SELECT count(*), sum(hash({columns})) FROM ({relation})").fetchall()[0]
        except Exception as err:  # noqa: BLE001 - every error is a finding
            record["error"] = f"{type(err).__name__}: {err}"
        handle.write(json.dumps(record, default=str) + "\n")
        handle.flush()
"""


def digest(root: Path, version: int) -> dict:
    out = {}
    for table in (DAILY, USERS):
        frame = table_frame(root, table, version)
        columns = ", ".join(f'"{c}"' for c in sorted(frame.columns))
        with duckdb.connect() as con:
            con.register("frame", frame.to_arrow())
            out[table] = list(con.sql(f"SELECT count(*), sum(hash({columns})) FROM frame").fetchall()[0])
    return out


def prepare(kind: str, demo_states, tmp: Path) -> tuple[Path, list[str]]:
    if kind in ("refresh", "update"):
        return copy_project(demo_states.behind, tmp / "project"), ["model", kind]
    if kind == "rewind":
        root = copy_project(demo_states.clean, tmp / "project")
        change_warehouse(root, day(20), day(24))
        return root, ["model", "rewind", "--from", day(20).isoformat(), "--to", day(24).isoformat()]
    if kind == "partial":
        root = copy_project(demo_states.clean, tmp / "project")
        edit_property(root)
        return root, ["model", "update", "--property", EDITED]
    if kind == "partial-activity":  # into a column table
        root = copy_project(demo_states.clean, tmp / "project")
        edit_activity_property(root)
        return root, ["model", "update", "--property", ACTIVITY_EDITED]
    root = copy_project(demo_states.behind, tmp / "project")  # restore
    Project(root).update(origin="test")
    return root, ["model", "restore", "1"]


@pytest.mark.parametrize("kind", ["refresh", "update", "rewind", "partial", "partial-activity", "restore"])
def test_a_reader_sees_only_whole_versions(kind: str, demo_states, tmp_path: Path) -> None:
    root, job = prepare(kind, demo_states, tmp_path)
    out, stop = tmp_path / "reads.jsonl", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(root), str(out), str(stop)], env=env(), cwd=REPO,
                              stderr=subprocess.PIPE)
    try:
        wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 2, timeout=120)
        done = run_cli(root, *job)
        assert done.returncode == 0, done.stdout + done.stderr
        seen = len(out.read_text().splitlines())
        wait_for(lambda: len(out.read_text().splitlines()) > seen + 1, timeout=120)
    finally:
        stop.touch()
        _out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err.decode()
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert [r["error"] for r in records if "error" in r] == []
    history = Project(root).history()
    assert len(history) >= 2
    digests = {v.version: digest(root, v.version) for v in history}
    assert digests[history[0].version] != digests[history[1].version], "the job changed nothing"
    for record in records:
        read = {t: list(record[t]) for t in (DAILY, USERS)}
        assert read == digests[record["version"]], f"a read of version {record['version']} is not that version"
    versions = [r["version"] for r in records]
    assert versions == sorted(versions), "a reader went back to an older version"
    assert versions[0] == history[1].version and versions[-1] == history[0].version


def test_a_restore_launched_like_the_studio_does(two_versions: Path, tmp_path: Path) -> None:
    """The Jobs page starts jobs detached through the launcher: a restore too."""
    from asemic_core.jobs.launcher import launch_job

    root = copy_project(two_versions, tmp_path / "project")
    project = Project(root)
    process = launch_job(project, "restore", {"version": 1}, origin="app")
    assert process.wait(timeout=300) == 0, process.log_path.read_text()
    job = project.job(process.job_id)[0]
    assert (job.kind, job.status, job.origin) == ("restore", "succeeded", "app")
    latest = project.history(1)[0]
    assert (latest.version, latest.kind, latest.restored_from, latest.job_id) == (3, "restore", 1, job.id)
    assert differing_days(partitions(root), partitions(root, version=1)) == []
