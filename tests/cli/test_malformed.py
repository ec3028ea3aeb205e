"""A corpus of malformed projects through `asemic-cli config validate`.

The cases live in ``malformed/cases.yaml`` (see the comment at its top). For each one the
CLI must exit with status 1, name the file and line with the expected message, never show
a traceback, and leave every file of the project untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from asemic_core.cli import main

CASES_FILE = Path(__file__).parent / "malformed" / "cases.yaml"
CASES = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
BY_NAME = {case["name"]: case for case in CASES}
REPO = Path(__file__).resolve().parents[2]


def test_the_corpus_is_large_and_well_formed():
    assert len(CASES) >= 40
    assert len(BY_NAME) == len(CASES), "case names must be unique"
    for case in CASES:
        assert {"name", "file", "old", "new", "message"} <= set(case), case
        assert ("at" in case) != (case.get("line", "given") is None), case["name"]


def prepare(case: dict, project, warehouse_template: Path) -> tuple[str, int | None]:
    """Apply the case to the fresh copy; return the file and line the output must name."""
    project.replace(case["file"], case["old"], case["new"])
    for extra in case.get("extra", []):
        project.replace(extra["file"], extra["old"], extra["new"])
    if case.get("warehouse"):
        shutil.copy2(warehouse_template, project.path("warehouse.duckdb"))
    location = case.get("location", case["file"])
    if "at" not in case:
        return location, None
    return location, project.line(case["file"], case["at"], after=case.get("after"))


def assert_reported(output: str, where: tuple[str, int | None], message: str) -> None:
    file, line = where
    prefix = f"{file}:{line}: " if line is not None else f"{file}: "
    lines = output.splitlines()
    assert any(text.startswith(prefix) and " error" in text and message in text for text in lines), (
        f"expected a line starting with {prefix!r} containing {message!r}; got:\n{output}"
    )


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_malformed_input_in_process(case, project, warehouse_template, capsys):
    where = prepare(case, project, warehouse_template)
    before = project.snapshot()
    status = main(["--project", str(project.root), "config", "validate"])
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert "Traceback" not in out + err
    assert_reported(out, where, case["message"])
    assert out.rstrip().splitlines()[-1].startswith("FAILED: ")
    assert project.snapshot() == before


JSON_CASES = ["unclosed-flow-mapping", "duplicate-key", "unknown-source-event", "kpi-cycle", "semicolon-in-table-where",
              "impossible-start-date", "no-activity-table", "missing-column"]


@pytest.mark.parametrize("name", JSON_CASES)
def test_malformed_input_as_json(name, project, warehouse_template, capsys):
    case = BY_NAME[name]
    where = prepare(case, project, warehouse_template)
    before = project.snapshot()
    status = main(["--project", str(project.root), "config", "validate", "--format", "json"])
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in out + err
    report = json.loads(out)
    assert report["ok"] is False
    assert report["errors"] == sum(1 for i in report["issues"] if i["severity"] == "error") >= 1
    assert report["warnings"] == sum(1 for i in report["issues"] if i["severity"] == "warning")
    for issue in report["issues"]:
        assert set(issue) >= {"file", "line", "message", "object_id", "field", "severity", "rule"}
    file, line = where
    matching = [i for i in report["issues"] if (i["file"], i["line"]) == (file, line)
                and i["severity"] == "error" and case["message"] in i["message"]]
    assert matching, json.dumps(report, indent=1)
    assert project.snapshot() == before


SUBPROCESS_CASES = ["tab-indentation", "unclosed-bracket", "unknown-source-property", "drop-in-computed-select",
                    "impossible-start-date", "missing-table"]


def test_malformed_input_through_a_subprocess(tmp_path, warehouse_template, copy_fixture):
    """A handful of cases through `python -m asemic_core.cli`, run concurrently."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("ASEMIC_PROJECT", None)
    running = []
    for name in SUBPROCESS_CASES:
        workspace = copy_fixture(tmp_path / name)
        where = prepare(BY_NAME[name], workspace, warehouse_template)
        before = workspace.snapshot()
        process = subprocess.Popen(
            [sys.executable, "-m", "asemic_core.cli", "--project", str(workspace.root), "config", "validate"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        )
        running.append((name, workspace, where, before, process))
    for name, workspace, where, before, process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 1, f"{name}: {out}{err}"
        assert "Traceback" not in out + err, name
        assert_reported(out, where, BY_NAME[name]["message"])
        assert workspace.snapshot() == before, name
