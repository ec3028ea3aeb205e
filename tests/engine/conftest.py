"""Make the helper modules of this directory (reference, golden_loader, random_project,
budget) importable and let failing hypothesis examples be reported.

pytest runs with --import-mode=importlib, which does not put test directories on sys.path.
The ``slow`` tests run in the README's test command (what CI runs) with the example counts
of budget.py; ``-m "not slow"`` leaves them out of a quick local run.
"""

from __future__ import annotations

import sys
from pathlib import Path


_HERE = Path(__file__).parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))


