"""The Spark engine's tests: skipped, with the reason, when pyspark or Java is missing.

All the tests share one ``local[2]`` session (starting Spark takes seconds): the ``spark``
fixture starts it once and stops it at the end of the run (a test that needs another
master stops it, and the next user of ``spark`` starts it again). Spark's warehouse
directory (catalog tables) is a temporary directory, for this process and the CLI
processes the tests start. Helpers live in ``spark_support`` (on ``sys.path`` here:
pytest runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from asemic_core.backend.spark_session import spark_unavailable

_HERE = Path(__file__).parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))




def missing() -> str | None:
    return spark_unavailable()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = missing()
    if reason is None:
        return
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.skip(reason=f"Spark tests need Spark: {reason}"))


@pytest.fixture(scope="session", autouse=True)
def spark_warehouse_dir(tmp_path_factory):
    """Catalog tables go to a temporary directory (not ``spark-warehouse`` in the current
    directory): a setting of the JVM every session of this process (and of the CLI
    processes the tests start) is created in."""
    directory = tmp_path_factory.mktemp("spark-warehouse")
    before = os.environ.get("PYSPARK_SUBMIT_ARGS")
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"--conf spark.sql.warehouse.dir={directory} pyspark-shell"
    yield directory
    if before is None:
        os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
    else:
        os.environ["PYSPARK_SUBMIT_ARGS"] = before


@pytest.fixture(scope="session")
def spark(spark_warehouse_dir):
    """The local[2] session every job of a local[2] project reuses: started once, stopped
    at the end of the run (a job started after a test stopped it starts it again)."""
    from asemic_core.backend.settings import SparkSettings
    from asemic_core.backend.spark_session import spark_session, stop_session

    spark_session(SparkSettings())
    yield lambda: spark_session(SparkSettings())
    stop_session()
