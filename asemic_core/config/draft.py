"""Unsaved edits of event tables: where they go, a scratch copy of the config with the
draft in place, and which errors a draft introduces.

``Project.check_event_draft`` validates that copy (including the dry run against the
warehouse), so it sees exactly what the project would hold after the save, and the
project itself is never touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from asemic_core.config.archive import config_files
from asemic_core.config.loader import ENTITY_DIR, EVENT_DIRS, load_project
from asemic_core.config.models import ACTIVITY, REGISTRATIONS
from asemic_core.config.yaml_edit import edit_yaml_text
from asemic_core.issues import Issue
from asemic_core.names import identifier_problem


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


def id_issues(root: Path, event_id: str, rel: str) -> list[Issue]:
    """Problems of a new event table's id: its spelling, a reserved name, an existing file."""
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
        if files.deployment.model.warehouse.path is None:
            return  # a Spark catalog: nothing on disk
        warehouse = Path(files.deployment.model.warehouse.path)
        if not warehouse.is_absolute() and (root / warehouse).exists():
            (target / warehouse).parent.mkdir(parents=True, exist_ok=True)
            os.symlink((root / warehouse).resolve(), target / warehouse)


def draft_target(root: Path, event_id: str) -> str:
    """The file an event draft is checked (and would be saved) in, relative to ``root``."""
    if identifier_problem(event_id or "") is None:
        return event_file(root, event_id)
    return f"{ENTITY_DIR}/events/{event_id}.yml"


def write_draft_copy(root: Path, scratch: Path, rel: str, data: dict) -> Path:
    """A copy of the project's config in ``scratch`` with ``data`` written to ``rel``
    (the warehouse linked, not copied); raises ``ConfigError`` when the draft cannot be
    written. Validate the copy to see the project as it would be after the save."""
    copy = scratch / "project"
    _scratch_copy(root, copy)
    current = (copy / rel).read_text(encoding="utf-8") if (copy / rel).is_file() else ""
    text = edit_yaml_text(current, rel, (), data)
    (copy / rel).parent.mkdir(parents=True, exist_ok=True)
    (copy / rel).write_text(text, encoding="utf-8")
    return copy
