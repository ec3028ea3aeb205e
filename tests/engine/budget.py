"""How much the slow tests do, by test profile (``ASEMIC_TEST_PROFILE``).

- ``ci`` (the default; the README's test command, which CI runs): every slow test runs,
  with example and repetition counts that keep the whole suite within 30 minutes on a
  slow 2-core machine (the counts were halved when it reached 29 of them);
- ``thorough``: the full counts (hours), before a release or after touching the engine.

Importable from tests/engine and tests/jobs (their conftest.py puts this directory on
``sys.path``).
"""

from __future__ import annotations

import os

PROFILES = ("ci", "thorough")
PROFILE = os.environ.get("ASEMIC_TEST_PROFILE", "ci")
if PROFILE not in PROFILES:
    raise RuntimeError(f"ASEMIC_TEST_PROFILE={PROFILE!r}: use one of {', '.join(PROFILES)}")


def budget(ci: int, thorough: int) -> int:
    """``ci`` or ``thorough`` repetitions, as the profile says."""
    return thorough if PROFILE == "thorough" else ci
