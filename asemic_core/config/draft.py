"""Check an unsaved edit before it is written: validate the project with the draft in place.

The draft is written into a scratch copy of the project's config (the warehouse is linked,
not copied), so validation, including the dry run against the warehouse, sees exactly what
the project would hold after the save, and the project itself is never touched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from asemic_core.config.archive import config_files
from asemic_core.config.loader import ENTITY_DIR, EVENT_DIRS, load_project
from asemic_core.config.writer import edit_yaml_text
from asemic_core.errors import ConfigError
from asemic_core.issues import Issue
from asemic_core.names import identifier_problem
from asemic_core.semantic.model import ACTIVITY, REGISTRATIONS



@dataclass
class DraftCheck:
    """The project's issues with the draft in place, and the errors the draft introduces."""

    rel_file: str
    issues: list[Issue] = field(default_factory=list)
    introduced: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.introduced


def _key(issue: Issue) -> tuple:
    # Lines move when a file is edited; the rest identifies a problem.
    return issue.file, issue.object_id, issue.field, issue.message, issue.rule


def introduced_errors(before: Iterable[Issue], after: Iterable[Issue]) -> list[Issue]:
    """Errors of ``after`` that ``before`` does not have (whatever their line)."""
    known = {_key(i) for i in before}
    return [i for i in after if i.is_error and _key(i) not in known]


def event_file(root: Path, event_id: str) -> str:
    """Where ``event_id`` is (or would be) saved, relative to ``root`` (as ``save_event`` does)."""
    for dirname in EVENT_DIRS:
        directory = root / ENTITY_DIR / dirname
        for suffix in (".yml", ".yaml"):
            if (directory / f"{event_id}{suffix}").is_file():
                return f"{ENTITY_DIR}/{dirname}/{event_id}{suffix}"
    return f"{ENTITY_DIR}/events/{event_id}.yml"


def _id_issues(root: Path, event_id: str, rel: str) -> list[Issue]:
    if identifier_problem(event_id or ""):
        return [Issue(rel, None, f"invalid event id {event_id!r}: use letters, digits and _ (not starting with a digit)",
                      object_id=event_id, field="id", rule="event-id")]
    if event_id in (REGISTRATIONS, ACTIVITY):
        return [Issue(rel, None, f"event id {event_id!r} is reserved for the implicit table of that name",
                      object_id=event_id, field="id", rule="event-reserved-id")]
    if (root / rel).exists():
        return [Issue(rel, None, f"an event table {event_id!r} already exists ({rel})", object_id=event_id,
                      field="id", rule="duplicate-id")]
    return []


def _scratch_copy(root: Path, target: Path) -> None:
    for rel in config_files(root):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target / rel)
    files = load_project(root)
    if files.deployment is not None:
        warehouse = Path(files.deployment.model.warehouse.path)
        if not warehouse.is_absolute() and (root / warehouse).exists():
            (target / warehouse).parent.mkdir(parents=True, exist_ok=True)
            os.symlink((root / warehouse).resolve(), target / warehouse)


def check_event_draft(root: str | os.PathLike, event_id: str, data: dict, *, new: bool,
                      baseline: Iterable[Issue] = (), dry_run: bool = True) -> DraftCheck:
    """Validate the project as it would be with event table ``event_id`` = ``data``.

    ``data`` is the plain YAML data of the table; ``new`` says the id must not exist yet.
    ``baseline`` holds the project's current issues: only errors beyond those count as
    introduced by the draft.
    """
    from asemic_core.project import Project

    root = Path(root).resolve()
    rel = event_file(root, event_id) if identifier_problem(event_id or "") is None else f"{ENTITY_DIR}/events/{event_id}.yml"
    if new:
        problems = _id_issues(root, event_id, rel)
        if problems:
            return DraftCheck(rel, problems, problems)
    with tempfile.TemporaryDirectory(prefix="asemic-draft-") as scratch:
        copy = Path(scratch) / "project"
        _scratch_copy(root, copy)
        current = (copy / rel).read_text(encoding="utf-8") if (copy / rel).is_file() else ""
        try:
            text = edit_yaml_text(current, rel, (), data)
        except ConfigError as err:
            problem = Issue(rel, None, err.message, object_id=event_id, rule="write")
            return DraftCheck(rel, [problem], [problem])
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_text(text, encoding="utf-8")
        issues = Project(copy).validate(dry_run=dry_run).issues
    return DraftCheck(rel, issues, introduced_errors(baseline, issues))
