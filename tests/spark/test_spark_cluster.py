"""The model on a Spark standalone cluster (a master and one worker on 127.0.0.1, started
with the scripts that ship with pyspark) and through Spark Connect (a server started from
pyspark's jars, a client with the spark extra's packages): the dry run passes on each, and
a refresh equals DuckDB's."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spark_support import assert_models_equal, day, make_pair

from asemic_core.project import Project

USERS, DAYS = 300, 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"port {port} never opened: {log.read_text()[-2000:]}")


def spark_bin(name: str) -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / name)


def start(args: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", SPARK_NO_DAEMONIZE="1", PYSPARK_PYTHON=sys.executable)
    with log.open("w") as handle:
        return subprocess.Popen([spark_bin("spark-class"), *args], stdout=handle, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


def refresh_both(tmp_path: Path, master: str) -> None:
    from asemic_core.backend.spark_session import stop_session

    spark_root, duck_root, _full = make_pair(tmp_path, USERS, DAYS, master=master)
    try:
        report = Project(spark_root).validate()  # the dry run on this master (its session, reused by the refresh)
        assert report.ok and report.dry_run == "passed", [i.to_dict() for i in report.issues]
        result = Project(spark_root).refresh(origin="test")
    finally:
        stop_session()
    expected = Project(duck_root).refresh(origin="test")
    assert (result.first_day, result.last_day, result.rows) == (day(0), day(DAYS - 1), expected.rows)
    stored = assert_models_equal(spark_root, duck_root, f"refresh on {master}")
    assert stored == Project(spark_root).status().stored_rows > 0


def test_refresh_on_a_standalone_cluster(tmp_path):
    port = free_port()
    master = start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                    "--webui-port", str(free_port())], tmp_path / "master.log")
    worker = None
    try:
        wait_port(port, master, tmp_path / "master.log")
        worker = start(["org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--host", "127.0.0.1",
                        "--cores", "2", "--memory", "1g", "--webui-port", str(free_port()),
                        "--work-dir", str(tmp_path / "work")], tmp_path / "worker.log")
        refresh_both(tmp_path / "projects", f"spark://127.0.0.1:{port}")
        assert "Registering app asemic" in (tmp_path / "master.log").read_text()
    finally:
        if worker is not None:
            stop(worker)
        stop(master)
    assert master.poll() is not None and (worker is None or worker.poll() is not None)


CONNECT_CLIENT = ("grpc", "grpc_status", "google.rpc")


@pytest.mark.skipif(any(importlib.util.find_spec(m.split(".")[0]) is None for m in CONNECT_CLIENT),
                    reason="Spark Connect's Python client needs grpcio, grpcio-status and googleapis-common-protos "
                           "(and zstandard), which pyspark does not install: pip install '.[spark]' pins them")
def test_refresh_through_spark_connect(tmp_path):
    port = free_port()
    server = start(["org.apache.spark.deploy.SparkSubmit", "--class",
                    "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[2]",
                    "--conf", f"spark.connect.grpc.binding.port={port}", "spark-internal"], tmp_path / "connect.log")
    try:
        wait_port(port, server, tmp_path / "connect.log")
        refresh_both(tmp_path / "projects", f"sc://127.0.0.1:{port}")
    finally:
        stop(server)
