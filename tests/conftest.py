"""Shared fixtures: copies of the example projects and a small generated warehouse.

Test directories have no ``__init__.py`` and pytest runs with ``--import-mode=importlib``,
so helpers are handed out through fixtures (``project``, ``legacy_project``, ...) rather
than imported.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
import warnings
from pathlib import Path

import pytest

from asemic_core.issues import Issue
from asemic_core.project import Project, ValidationReport

# When a hypothesis test fails, hypothesis's pytest plugin imports hypothesis.extra._patching,
# which imports libcst when it is installed; libcst's import warns (mypy_extensions.TypedDict
# is deprecated) and, with warnings as errors, the failure report becomes an INTERNALERROR
# that hides the failing example. Import it once here, for every test directory, with that
# warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:  # pragma: no cover - libcst absent
        pass

FIXTURES = Path(__file__).parent / "fixtures"
CURRENT = FIXTURES / "asemic_current"
LEGACY = FIXTURES / "asemic_2024"
WAREHOUSE_NAME = "warehouse.duckdb"  # as named by both fixtures' asemic.yml


class Workspace:
    """A writable copy of a project, with helpers to mutate it and check the result.

    Every helper that locates something computes lines from the *current text* of the
    file, never from the code under test.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- files ---------------------------------------------------------------------
    def path(self, rel: str) -> Path:
        return self.root / rel

    def read(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> Path:
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def delete(self, rel: str) -> None:
        self.path(rel).unlink()

    def replace(self, rel: str, old: str, new: str) -> None:
        """Replace the single occurrence of ``old`` (the mutation must be unambiguous)."""
        text = self.read(rel)
        count = text.count(old)
        assert count == 1, f"{old!r} occurs {count} times in {rel}; a mutation must be unambiguous"
        self.write(rel, text.replace(old, new))

    def append(self, rel: str, text: str) -> None:
        current = self.read(rel)
        if not current.endswith("\n"):
            current += "\n"
        self.write(rel, current + text)

    def line(self, rel: str, needle: str, after: str | None = None) -> int:
        """1-based line of the unique occurrence of ``needle``; with ``after`` (itself unique),
        of the first occurrence of ``needle`` after it."""
        text = self.read(rel)
        start = 0
        if after is not None:
            assert text.count(after) == 1, f"{after!r} is not unique in {rel}"
            start = text.index(after)
        found = text.find(needle, start)
        assert found >= 0, f"{needle!r} not found in {rel}"
        if after is None:
            assert text.find(needle, found + 1) < 0, f"{needle!r} is not unique in {rel}"
        return text.count("\n", 0, found) + 1

    def snapshot(self) -> dict[str, tuple[str, int]]:
        """sha256 and mtime of every file under the project."""
        out = {}
        for file in sorted(self.root.rglob("*")):
            if file.is_file():
                out[file.relative_to(self.root).as_posix()] = (
                    hashlib.sha256(file.read_bytes()).hexdigest(),
                    file.stat().st_mtime_ns,
                )
        return out

    # -- validation ----------------------------------------------------------------
    def validate(self, dry_run: bool = False) -> ValidationReport:
        return Project(self.root).validate(dry_run=dry_run)

    def errors(self, dry_run: bool = False) -> list[Issue]:
        return self.validate(dry_run=dry_run).errors

    def expect_one(
        self,
        *,
        file: str | None,
        line: int | None,
        object_id: str | None,
        field: str | None,
        message: str,
        dry_run: bool = False,
    ) -> Issue:
        """The project has exactly one ERROR, and it is this one.

        ``field`` matches the issue's field exactly or as a dotted prefix
        (``event_property`` matches ``event_property.select``).
        """
        errors = self.errors(dry_run=dry_run)
        shown = "\n".join(issue.format() for issue in errors) or "(no errors)"
        assert len(errors) == 1, f"expected exactly one error, got {len(errors)}:\n{shown}"
        issue = errors[0]
        assert issue.file == file, shown
        assert issue.line == line, f"expected line {line}:\n{shown}"
        assert issue.object_id == object_id, shown
        if field is None:
            assert issue.field is None, shown
        else:
            assert issue.field is not None and (
                issue.field == field or issue.field.startswith(field + ".")
            ), f"expected field {field!r}:\n{shown}"
        assert message in issue.message, f"expected {message!r} in the message:\n{shown}"
        return issue


_PARSED: dict[tuple[str, str], tuple] = {}
_MEMOIZED_DIRS = ("config", "validation", "cli")


@pytest.fixture(autouse=True)
def _memoized_yaml_parsing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Parse each distinct file text once per session (tests of config/validation/cli only).

    ruamel's round-trip parser is pure Python and dominates the time of a validation;
    nearly every test validates a copy of the same fixture with one file changed.
    ``parse_yaml`` is a pure function of (text, file name) and every caller gets a deep
    copy, so this changes nothing but the speed. Subprocess runs are not affected.
    """
    tests_dir = Path(__file__).parent
    try:
        top = Path(request.node.path).relative_to(tests_dir).parts[0]
    except ValueError:
        top = ""
    if top not in _MEMOIZED_DIRS:
        yield
        return
    from asemic_core.config import yaml_io

    original = yaml_io.parse_yaml

    def parse_yaml(text: str, rel_path: str):
        key = (text, rel_path)
        if key not in _PARSED:
            _PARSED[key] = original(text, rel_path)
        return copy.deepcopy(_PARSED[key])

    monkeypatch.setattr(yaml_io, "parse_yaml", parse_yaml)
    yield


def _copy(source: Path, target: Path) -> Workspace:
    shutil.copytree(source, target)
    return Workspace(target)


@pytest.fixture
def copy_fixture():
    """``copy_fixture(target, legacy=False)``: a Workspace over a fresh copy at ``target``."""

    def make(target: Path, legacy: bool = False) -> Workspace:
        return _copy(LEGACY if legacy else CURRENT, target)

    return make


@pytest.fixture
def project(tmp_path: Path) -> Workspace:
    """A fresh copy of ``tests/fixtures/asemic_current`` (no warehouse)."""
    return _copy(CURRENT, tmp_path / "project")


@pytest.fixture
def legacy_project(tmp_path: Path) -> Workspace:
    """A fresh copy of ``tests/fixtures/asemic_2024`` (no warehouse)."""
    return _copy(LEGACY, tmp_path / "legacy")


@pytest.fixture(scope="session")
def warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo warehouse (schema ``game``), generated once per session.

    Never handed to a test directly: tests get a copy inside their project.
    """
    from asemic_core.demo.dataset import DemoSpec, generate_warehouse

    path = tmp_path_factory.mktemp("warehouse") / WAREHOUSE_NAME
    generate_warehouse(path, DemoSpec(users=60, days=10))
    return path


@pytest.fixture
def project_dw(project: Workspace, warehouse_template: Path) -> Workspace:
    """The current-layout project with a generated warehouse next to it."""
    shutil.copy2(warehouse_template, project.path(WAREHOUSE_NAME))
    return project


@pytest.fixture
def legacy_project_dw(legacy_project: Workspace, warehouse_template: Path) -> Workspace:
    """The 2024-layout project with a generated warehouse next to it."""
    shutil.copy2(warehouse_template, legacy_project.path(WAREHOUSE_NAME))
    return legacy_project
