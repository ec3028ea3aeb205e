"""Bad engine settings: a clear message naming the setting, exit status 1, nothing written
(no model directory), through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asemic_core.config import writer
from asemic_core.config.models import DeploymentConfig
from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import init_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("errors") / "demo"
    init_demo(root, DemoSpec(users=50, days=5), engine="spark")
    return root


def refresh(root: Path, **env: str) -> subprocess.CompletedProcess:
    """``model refresh`` through the CLI, in the project directory, with Spark's defaults
    (not the tests' warehouse directory)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYSPARK_SUBMIT_ARGS"}
    return subprocess.run([sys.executable, "-m", "asemic_core.cli", "--project", str(root), "model", "refresh"],
                          capture_output=True, text=True, timeout=300, env={**environment, **env}, cwd=root)


def with_engine(root: Path, tmp_path: Path, **engine) -> Path:
    import shutil

    target = tmp_path / "project"
    shutil.copytree(root, target)
    writer.save_deployment(target, DeploymentConfig.model_validate(
        {"name": "Demo game", "warehouse": {"type": "parquet", "path": "events"}, "engine": {"type": "spark", **engine}}))
    return target


def assert_refused(done: subprocess.CompletedProcess, root: Path, *fragments: str) -> None:
    assert done.returncode == 1, done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, done.stderr
    for fragment in fragments:
        assert fragment in error[0], error[0]
    assert "Traceback" not in done.stderr
    assert '"level": "ERROR"' not in done.stderr  # pyspark's own log of the error it raised is silenced
    assert not (root / ".asemic").exists() and not (root / "spark-warehouse").exists()


def test_no_java(demo, tmp_path):
    root = with_engine(demo, tmp_path)
    done = refresh(root, JAVA_HOME=str(tmp_path / "no-java"))
    assert_refused(done, root, "JAVA_HOME", str(tmp_path / "no-java"), "Java 17")


def test_unreachable_master(demo, tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = with_engine(demo, tmp_path, master=f"spark://127.0.0.1:{port}")
    done = refresh(root)
    assert_refused(done, root, f"engine.master spark://127.0.0.1:{port} is not reachable")


def test_a_table_missing_on_spark(demo, tmp_path):
    import shutil

    root = with_engine(demo, tmp_path)
    shutil.rmtree(root / "events" / "game" / "ad_views")
    done = refresh(root)
    assert_refused(done, root, "event 'ad_view'", "game.ad_views does not exist on Spark",
                   f"warehouse.path {root / 'events'}", "PATH_NOT_FOUND")


def test_a_bad_engine_section_is_a_config_issue(demo, tmp_path):
    root = with_engine(demo, tmp_path)
    text = (root / "asemic.yml").read_text()
    (root / "asemic.yml").write_text(text.replace("type: spark", "type: spark\n  master: yarn-cluster\n  format: orc"))
    done = subprocess.run([sys.executable, "-m", "asemic_core.cli", "--project", str(root), "config", "validate",
                           "--no-dry-run", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    import json

    issues = {(i["field"], i["line"]): i["message"] for i in json.loads(done.stdout)["issues"]}
    lines = (root / "asemic.yml").read_text().splitlines()
    master_line = next(n for n, line in enumerate(lines, 1) if "master:" in line)
    format_line = next(n for n, line in enumerate(lines, 1) if "format:" in line)
    assert "not a Spark master" in issues[("engine.master", master_line)]
    assert "'parquet', 'delta' or 'iceberg'" in issues[("engine.format", format_line)]
    assert not (root / ".asemic").exists()


def test_validate_without_java_reports_the_engine(demo, tmp_path):
    """The dry run of a Spark project runs on Spark: without Java it is one issue on engine.type."""
    import json

    root = with_engine(demo, tmp_path)
    done = subprocess.run([sys.executable, "-m", "asemic_core.cli", "--project", str(root), "config", "validate",
                           "--format", "json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "JAVA_HOME": str(tmp_path / "no-java")})
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] == "failed (the warehouse cannot be read)"
    [issue] = report["issues"]
    line = next(n for n, text in enumerate((root / "asemic.yml").read_text().splitlines(), 1) if "type: spark" in text)
    assert (issue["file"], issue["field"], issue["line"]) == ("asemic.yml", "engine.type", line)
    assert issue["message"].startswith(f"engine.type is spark but JAVA_HOME ({tmp_path / 'no-java'}) holds no bin/java")
    assert not (root / ".asemic").exists()
