"""The Spark session a project's jobs run on: one per process, made from ``engine:``
(master or Spark Connect URL, extra conf). Every way it can fail to start names the
setting to fix (no pyspark, no Java, a master that does not answer)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import socket
import threading
import warnings
from pathlib import Path
from urllib.parse import urlparse

from asemic_core.backend.settings import SparkSettings
from asemic_core.errors import WarehouseError

# What every session gets: dates and timestamps without a time zone shift (the model's
# days are calendar days), few shuffle partitions (the model is per user and day), and
# dynamic partition overwrite (a write replaces only the days it holds).
BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.ansi.enabled": "false",
}
PROBE_SECONDS = 5.0
WAREHOUSE_DIR = "asemic-spark-warehouse"  # spark.sql.warehouse.dir of a local session, under the temp dir
# pyspark logs every analysis error it raises (a JSON record on stderr) through these.
QUERY_ERROR_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")

_lock = threading.Lock()
_current: tuple[tuple, object] | None = None  # (key of the settings, the session)


class SparkUnavailable(WarehouseError):
    """Spark could not start or reach its master: the message names the setting."""


def _key(settings: SparkSettings) -> tuple:
    return (settings.master, settings.conf)


def check_java() -> None:
    """Spark needs Java 17+: JAVA_HOME's, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        if not (Path(home) / "bin" / "java").is_file():
            raise SparkUnavailable(f"engine.type is spark but JAVA_HOME ({home}) holds no bin/java: "
                                   "point JAVA_HOME at a Java 17 installation (Debian: openjdk-17-jre-headless) "
                                   "or unset it")
    elif shutil.which("java") is None:
        raise SparkUnavailable("engine.type is spark but Java is not installed: install Java 17 "
                               "(Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME")


def spark_unavailable() -> str | None:
    """Why Spark cannot start in this process (pyspark or Java missing), or None."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install '.[spark]')"
    try:
        check_java()
    except SparkUnavailable as err:
        return str(err)
    return None


def probe_master(master: str) -> None:
    """A standalone master or a Spark Connect server must answer on its port (Spark itself
    would retry for a minute before giving up)."""
    if not master.startswith(("spark://", "sc://")):
        return
    parsed = urlparse(master)
    port = parsed.port or (15002 if master.startswith("sc://") else 7077)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=PROBE_SECONDS):
            pass
    except OSError as err:
        raise SparkUnavailable(f"engine.master {master} is not reachable ({err.strerror or err}): start the "
                               "Spark master (or Spark Connect server) or fix engine.master") from None


def spark_session(settings: SparkSettings):
    """The process's session for ``settings`` (started on first use, reused after)."""
    global _current
    with _lock:
        if _current is not None and _current[0] == _key(settings):
            session = _current[1]
            if _alive(session):
                return session
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise SparkUnavailable("engine.type is spark but pyspark is not installed: "
                                   "pip install 'asemic[spark]' (pyspark 4.3.0)") from None
        probe_master(settings.master)  # before the running session is stopped: a bad setting leaves it be
        if not settings.remote:
            check_java()
        if _current is not None:
            _stop(_current[1])
            _current = None
        builder = SparkSession.builder.appName("asemic")
        if settings.remote:
            builder = builder.remote(settings.master)
        else:
            # pyspark marks the process as a Spark Connect client once it made a remote session,
            # and would take the next classic session for a remote one too.
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
            builder = builder.master(settings.master)
            for name, value in BASE_CONF.items():
                builder = builder.config(name, value)
        if not settings.remote and "spark.sql.warehouse.dir" not in dict(settings.conf) and \
                not _submit_sets_warehouse():
            # Spark creates its catalog's directory on the first query: in the temporary directory, not
            # in the project or wherever the process runs (a local session's catalog is the session's).
            builder = builder.config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / WAREHOUSE_DIR))
        for name, value in settings.conf:
            builder = builder.config(name, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # pyspark's note about pandas 3
                session = builder.getOrCreate()
        except Exception as err:  # noqa: BLE001 - py4j/pyspark raise many kinds; all mean "no session"
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SparkUnavailable(f"Spark did not start with engine.master {settings.master}: {first}") from None
        if settings.remote:
            for name, value in BASE_CONF.items():
                if not name.startswith("spark.ui"):
                    try:
                        session.conf.set(name, value)
                    except Exception:  # noqa: BLE001 - a server may refuse static settings
                        pass
        else:
            session.sparkContext.setLogLevel("ERROR")
        for name in QUERY_ERROR_LOGGERS:  # asemic reports Spark's errors itself, one line each
            logging.getLogger(name).setLevel(logging.CRITICAL)
        _current = (_key(settings), session)
        return session


def _submit_sets_warehouse() -> bool:
    return "spark.sql.warehouse.dir" in os.environ.get("PYSPARK_SUBMIT_ARGS", "")


def _alive(session) -> bool:
    try:
        context = getattr(session, "_sc", None)
        return context is None or context._jsc is not None
    except Exception:  # noqa: BLE001
        return False


def _stop(session) -> None:
    try:
        session.stop()
    except Exception:  # noqa: BLE001
        pass


def stop_session() -> None:
    """Stop the process's session (tests; a long-lived app keeps it)."""
    global _current
    with _lock:
        if _current is not None:
            _stop(_current[1])
            _current = None
