"""Helpers for the job tests.

- puts ``tests/engine`` (golden_loader, reference, random_project) and this directory
  (``jobs_support``) on ``sys.path``: pytest runs with ``--import-mode=importlib``;
- a failing hypothesis example is reported (see below);
- ``demo_states``: demo projects prepared once per session (copy them);
- YAML parsing is memoized in-process (as tests/conftest.py does for other directories);
- tests marked ``slow`` run in the README's test command (what CI runs), with the
  repetition counts of tests/engine/budget.py; ``-m "not slow"`` leaves them out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).parent

for _path in (str(_HERE.parent / "engine"), str(_HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)



class DemoStates:
    """Prepared demo projects (3000 users over 60 days), never modified by a test: copy them.

    - ``base``: config and warehouse, no model;
    - ``clean``: ``base`` refreshed;
    - ``behind``: the model was refreshed when the warehouse ended on day 53; the
      warehouse now holds all 60 days (what an update or a refresh should bring in).
    """

    def __init__(self, root: Path) -> None:
        from jobs_support import copy_project, day, make_demo, truncate_warehouse

        from asemic_core.project import Project

        self.base = make_demo(root / "base")
        self.clean = copy_project(self.base, root / "clean")
        Project(self.clean).refresh(origin="test")
        self.behind = copy_project(self.base, root / "behind")
        truncate_warehouse(self.behind, day(53))
        Project(self.behind).refresh(origin="test")
        (self.behind / "warehouse.duckdb").write_bytes((self.base / "warehouse.duckdb").read_bytes())


@pytest.fixture(scope="session")
def demo_states(tmp_path_factory: pytest.TempPathFactory) -> DemoStates:
    return DemoStates(tmp_path_factory.mktemp("demo-states"))


_PARSED: dict[tuple[str, str], tuple] = {}


@pytest.fixture(autouse=True, scope="module")
def _memoized_yaml_parsing():
    """Parse each distinct file text once (in this process; subprocess jobs are not affected).

    The jobs re-read the config at every step and ruamel's round-trip parser dominates
    that; ``parse_yaml`` is a pure function of (text, file name) and every caller gets a
    deep copy (as tests/conftest.py does for the config, validation and cli tests).
    """
    import copy

    from asemic_core.config import yaml_io

    original = yaml_io.parse_yaml

    def parse_yaml(text: str, rel_path: str):
        key = (text, rel_path)
        if key not in _PARSED:
            _PARSED[key] = original(text, rel_path)
        return copy.deepcopy(_PARSED[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yaml_io, "parse_yaml", parse_yaml)
        yield
