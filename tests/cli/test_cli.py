"""`asemic-cli config validate|schema` and usage errors: exit statuses and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asemic_core.cli import EXIT_OK, EXIT_USAGE, EXIT_USER, main
from asemic_core.config.models import FILE_KINDS

REPO = Path(__file__).resolve().parents[2]


def run(argv, capsys) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_valid_project_exits_0(project_dw, capsys):
    before = project_dw.snapshot()
    status, out, err = run(["--project", str(project_dw.root), "config", "validate"], capsys)
    assert status == EXIT_OK, out + err
    assert out.rstrip().splitlines()[-1] == "OK: 0 errors, 1 warning; dry run: passed"
    assert "warning [playtime_next_7_days" in out
    assert project_dw.snapshot() == before


def test_valid_legacy_project_exits_0_without_dry_run(legacy_project, capsys):
    status, out, _ = run(["--project", str(legacy_project.root), "config", "validate", "--no-dry-run"], capsys)
    assert status == EXIT_OK
    assert out.strip() == "OK: 0 errors, 0 warnings; dry run: skipped: not requested"


def test_project_from_the_environment(project, capsys, monkeypatch):
    monkeypatch.setenv("ASEMIC_PROJECT", str(project.root))
    status, out, _ = run(["config", "validate", "--no-dry-run"], capsys)
    assert status == EXIT_OK and out.startswith("userentity/properties/activity.yml:")


def test_missing_project_directory_exits_1(tmp_path, capsys):
    status, out, err = run(["--project", str(tmp_path / "nowhere"), "config", "validate"], capsys)
    assert status == EXIT_USER
    assert "does not exist" in out and "Traceback" not in out + err


def test_json_lists_every_issue_with_its_location(project, capsys):
    p = "userentity/properties"
    project.replace(f"{p}/activity.yml", "      source_event: session\n      select: '{session_length_s}'",
                    "      source_event: sessionz\n      select: '{session_length_s}'")
    project.replace(f"{p}/revenue.yml", "date_from: '2024-01-01'", "date_from: '2024-01-09'")
    project.replace("userentity/kpis/levels.yml", "select: AVG({property.max_level_reached})",
                    "select: AVG({property.max_level_reached}); DROP TABLE x")
    status, out, err = run(["--project", str(project.root), "config", "validate", "--format", "json"], capsys)
    assert status == EXIT_USER and err == ""
    report = json.loads(out)
    assert (report["ok"], report["errors"], report["warnings"]) == (False, 3, 1)
    assert report["dry_run"].startswith("skipped")
    errors = [(i["file"], i["line"], i["object_id"], i["field"]) for i in report["issues"] if i["severity"] == "error"]
    assert errors == [
        ("userentity/kpis/levels.yml", project.line("userentity/kpis/levels.yml", "DROP TABLE"), "avg_max_level", "select"),
        (f"{p}/activity.yml", project.line(f"{p}/activity.yml", "sessionz"), "playtime_on_day",
         "event_property.source_event"),
        (f"{p}/revenue.yml", project.line(f"{p}/revenue.yml", "2024-01-09"), "revenue_launch_week",
         "fixed_window_property.date_from"),
    ]
    assert all(i["rule"] and i["message"] for i in report["issues"])


def test_json_of_a_valid_project(project, capsys):
    status, out, _ = run(["--project", str(project.root), "config", "validate", "--format", "json"], capsys)
    report = json.loads(out)
    assert status == EXIT_OK and report["ok"] is True and report["errors"] == 0
    assert [i["severity"] for i in report["issues"]] == ["warning"]


def test_schema_command(tmp_path, capsys):
    out_dir = tmp_path / "schemas"
    status, out, _ = run(["config", "schema", "--out", str(out_dir)], capsys)
    assert status == EXIT_OK
    assert sorted(Path(line).name for line in out.splitlines()) == sorted(f"{k}.schema.json" for k in FILE_KINDS)
    for path in out_dir.iterdir():
        assert json.loads(path.read_text(encoding="utf-8"))["type"] == "object"


# ------------------------------------------------------------------ usage errors


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["config"],
        ["config", "bogus"],
        ["config", "validate", "--format", "xml"],
        ["config", "validate", "--bogus"],
        ["config", "schema"],
        ["demo", "init", "{dir}", "--users", "abc"],
        ["demo", "init", "{dir}", "--users", "0"],
        ["demo", "init", "{dir}", "--days", "1.5"],
        ["demo", "init", "{dir}", "--seed", "x"],
        ["demo", "init"],
    ],
    ids=lambda argv: " ".join(argv) or "(nothing)",
)
def test_usage_errors_exit_2(argv, tmp_path, capsys):
    target = tmp_path / "demo"
    argv = [part.replace("{dir}", str(target)) for part in argv]
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == EXIT_USAGE
    assert "usage:" in err and "Traceback" not in out + err
    assert not target.exists()


def test_bad_user_count_explains_itself(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "init", str(tmp_path / "d"), "--users", "abc"])
    assert "expected a whole number, got 'abc'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["frobnicate"], ["demo", "init", "DIR", "--users", "abc"]])
def test_usage_errors_exit_2_in_a_subprocess(argv, tmp_path):
    argv = [part.replace("DIR", str(tmp_path / "demo")) for part in argv]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "asemic_core.cli", *argv], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert "usage:" in result.stderr and "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "demo").exists()
