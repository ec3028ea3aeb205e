"""Hostile and malformed input through the real CLI (``python -m asemic_core.cli``).

The cases live in ``cases/*.yaml`` (the format is described at the top of
``cases/names.yaml``); add a file or a case there, nothing here needs to change. Each
case either fails precisely (exit status, a message naming file, line, object and field,
no traceback, every file of the project byte-identical) or gives correct results (values
equal to those of a twin command or of a query run directly on the warehouse).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest
import yaml

CASES_DIR = Path(__file__).parent / "cases"
REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "asemic_current"
REPEAT = re.compile(r"<<(.+?)\*(\d+)>>", re.S)


def load_cases() -> list[dict]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case["source"] = path.name
            cases.append(case)
    return cases


CASES = load_cases()


def expand(text: str) -> str:
    """``<<X*N>>`` stands for X repeated N times (large or deeply nested inputs stay short here)."""
    return REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), text)


def tree(root: Path) -> dict[str, str]:
    """sha256 of every file and a marker for every directory under ``root``, hidden ones included."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return out


def apply_step(step: dict, root: Path, outside: Path) -> None:
    if "append" in step:
        target = root / step["append"]
        text = target.read_text(encoding="utf-8")
        target.write_text(text + ("" if text.endswith("\n") else "\n") + expand(step["text"]), encoding="utf-8")
    elif "replace" in step:
        target = root / step["replace"]
        text = target.read_text(encoding="utf-8")
        assert text.count(step["old"]) == 1, f"{step['old']!r} is not unique in {step['replace']}"
        target.write_text(text.replace(step["old"], expand(step["new"])), encoding="utf-8")
    elif "write" in step:
        target = root / step["write"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if "latin1" in step:
            target.write_bytes(step["latin1"].encode("latin-1"))
        else:
            target.write_text(expand(step["text"]), encoding="utf-8")
    elif "delete" in step:
        (root / step["delete"]).unlink()
    elif "warehouse_sql" in step:  # e.g. a table with STRUCT columns for the cases that need one
        con = duckdb.connect(str(root / "warehouse.duckdb"))
        try:
            con.execute(step["warehouse_sql"])
        finally:
            con.close()
    elif "write_outside" in step:
        (outside / step["write_outside"]).write_text(expand(step["text"]), encoding="utf-8")
    elif "zip" in step:
        make_zip(step, root, outside / step["zip"])
    elif "copy" in step:
        shutil.copy2(root / step["copy"], root / step["to"])
    else:
        raise AssertionError(f"unknown step {step}")


def make_zip(step: dict, root: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in step.get("from_project", []):  # copy of a project folder or file, under the same name
            source = root / name
            for path in sorted([source] if source.is_file() else source.rglob("*")):
                if path.is_file():
                    archive.writestr(path.relative_to(root).as_posix(), path.read_bytes())
        for name, text in step.get("entries", {}).items():
            archive.writestr(name, expand(text))
        for name, size in step.get("zeros", {}).items():  # highly compressible: a zip bomb
            archive.writestr(name, b"\n" * int(size))
        for index in range(int(step.get("empty_entries", 0))):
            archive.writestr(f"userentity/properties/empty_{index}.yml", "")


def cli(root: Path, command: str, cwd: Path, outside: Path) -> subprocess.CompletedProcess:
    args = [expand(part.replace("{outside}", str(outside))) for part in shlex.split(command)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("ASEMIC_PROJECT", None)
    return subprocess.run([sys.executable, "-m", "asemic_core.cli", "--project", str(root), *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def line_of(root: Path, rel: str, needle: str, after: str | None = None) -> int:
    text = (root / rel).read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    found = text.index(needle, start)
    return text.count("\n", 0, found) + 1


def check_error(expected: dict, result: subprocess.CompletedProcess, root: Path) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == expected.get("exit", 1), output
    assert "Traceback" not in output, output
    lines = output.splitlines()
    file = expected.get("file")
    if file is not None:
        prefix = f"{file}:{line_of(root, file, expected['at'], expected.get('after'))}: " if "at" in expected else f"{file}"
        lines = [text for text in lines if text.startswith(prefix) and " error" in text]
        assert lines, f"no error line starting with {prefix!r}:\n{output}"
    subject = ""
    if "object" in expected:
        subject = "[" + expected["object"] + ("." + expected["field"] if "field" in expected else "")
        lines = [text for text in lines if subject in text]
    assert any(expected["message"] in text for text in lines), (
        f"expected {expected['message']!r} (subject {subject!r}) on one line of:\n{output}")


def warehouse_scalar(root: Path, sql: str):
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def check_ok(expected: dict, result: subprocess.CompletedProcess, root: Path, cwd: Path, outside: Path) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output, output
    for text in expected.get("output_contains", []):
        assert text in output, output
    if "check" in expected:  # the values to compare come from a later command
        result = cli(root, expected["check"], cwd, outside)
        assert result.returncode == 0, result.stdout + result.stderr
    if "same_as" in expected:
        twin = cli(root, expected["same_as"], cwd, outside)
        assert twin.returncode == 0, twin.stdout + twin.stderr
        if result.stdout.startswith("{"):  # a KPI query: the points, not the echo of the request
            assert json.loads(result.stdout)["points"] == json.loads(twin.stdout)["points"]
        else:
            assert result.stdout == twin.stdout
    if "total" in expected:
        rows = json.loads(result.stdout)
        rows = rows["points"] if isinstance(rows, dict) else rows
        assert rows, "no rows"
        column = expected.get("column", "value")
        got = sum(row[column] or 0 for row in rows)
        assert got == pytest.approx(warehouse_scalar(root, expected["total"])), output[:2000]
    if "rows" in expected:
        rows = json.loads(result.stdout)
        assert len(rows["points"] if isinstance(rows, dict) else rows) == expected["rows"]


def test_the_corpus_is_large_and_well_formed():
    assert len(CASES) >= 60
    names = [case["name"] for case in CASES]
    assert len(set(names)) == len(names), "case names must be unique"
    for case in CASES:
        assert ("error" in case) != ("ok" in case), case["name"]
        assert "run" in case, case["name"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_hostile_input(case: dict, tmp_path: Path, warehouse_template: Path) -> None:
    outside = tmp_path / "outside"  # archives and other inputs that are not part of the project
    outside.mkdir()
    root = tmp_path / case.get("dir", "project")
    shutil.copytree(FIXTURE, root)
    if case.get("warehouse", True):
        shutil.copy2(warehouse_template, root / "warehouse.duckdb")
    for command in case.get("setup", []):
        done = cli(root, command, tmp_path, outside)
        assert done.returncode == 0, done.stdout + done.stderr
    for step in case.get("steps", []):
        apply_step(step, root, outside)
    before = tree(root)
    result = cli(root, case["run"], root, outside)  # run inside the project: a stray file would show
    if "error" in case:
        check_error(case["error"], result, root)
        assert tree(root) == before, "the project changed"
    else:
        check_ok(case["ok"], result, root, root, outside)
