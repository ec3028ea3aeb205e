"""The Spark engine's tests: skipped, with the reason, when pyspark or Java is missing.

Each test module shares one ``local[2]`` session (starting Spark takes seconds): the
``spark`` fixture starts it for the module and stops it at the module's end. Helpers live
in ``spark_support`` (on ``sys.path`` here: pytest runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))


def missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install '.[spark]')"
    home = os.environ.get("JAVA_HOME")
    if not (Path(home) / "bin" / "java").is_file() if home else shutil.which("java") is None:
        return "Java is not installed (Debian: apt-get install openjdk-17-jre-headless)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = missing()
    if reason is None:
        return
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.skip(reason=f"Spark tests need Spark: {reason}"))


@pytest.fixture(scope="module")
def spark():
    """The module's local[2] session (the one every job of a local[2] project reuses)."""
    from asemic_core.backend.settings import SparkSettings
    from asemic_core.backend.spark_session import spark_session, stop_session

    session = spark_session(SparkSettings())
    yield session
    stop_session()
