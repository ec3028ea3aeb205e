"""Make the helper modules of this directory (reference, golden_loader, random_project)
importable, let failing hypothesis examples be reported, and skip the ``slow`` tests of
this directory unless they are asked for.

pytest runs with --import-mode=importlib, which does not put test directories on sys.path.
The README's test command (what CI runs) is a plain ``python -m pytest`` and the ``slow``
marker means "excluded in CI": run them with ``-m slow`` (or any ``-m`` expression naming
``slow``) or ``ASEMIC_RUN_SLOW=1``.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

_HERE = Path(__file__).parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

# When a hypothesis test fails, hypothesis's pytest plugin imports hypothesis.extra._patching,
# which imports libcst when it is installed; libcst's import warns (mypy_extensions.TypedDict
# is deprecated) and, with warnings as errors, the failure report becomes an INTERNALERROR
# that hides the failing example. Import it once here with that warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:  # pragma: no cover - libcst absent
        pass


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ASEMIC_RUN_SLOW") == "1" or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or ASEMIC_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords and _HERE in Path(str(item.path)).parents:
            item.add_marker(skip)
