"""Make the helper modules of this directory (reference, golden_loader, random_project,
budget) importable and let failing hypothesis examples be reported.

pytest runs with --import-mode=importlib, which does not put test directories on sys.path.
The ``slow`` tests run in the README's test command (what CI runs) with the example counts
of budget.py; ``-m "not slow"`` leaves them out of a quick local run.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path


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

