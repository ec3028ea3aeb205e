"""Read a project directory into config models, remembering where everything was written.

Loading never raises for a user mistake: it returns the objects that parsed and the
issues found, each naming file and line. Hidden files and non-YAML files are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from asemic_core.config.models import DeploymentConfig, EntityConfig, EventTable, Kpi, Property
from asemic_core.config.yaml_io import KeyPath, YamlDocument, read_yaml_file
from asemic_core.issues import Issue, sort_issues
from asemic_core.names import name_issues

ASEMIC_FILE = "asemic.yml"
ENTITY_DIR = "userentity"
ENTITY_FILE = f"{ENTITY_DIR}/config.yml"
EVENT_DIRS = ("events", "actions")  # "actions" is the 2024 Asemic name
YAML_SUFFIXES = (".yml", ".yaml")

M = TypeVar("M", bound=BaseModel)


@dataclass
class Located(Generic[M]):
    """A config object together with where it was written."""

    id: str
    model: M
    doc: YamlDocument
    path: KeyPath  # key path of the object inside its document ("()" for a whole file)

    @property
    def file(self) -> str:
        return self.doc.rel_path

    @property
    def line(self) -> int:
        return self.doc.line_of(self.path) or 1

    def field_line(self, *field_path: str | int) -> int:
        """Line of a field of this object (falls back to the object's own line)."""
        return self.doc.line_of(self.path + tuple(_yaml_key(self.doc, self.path, field_path))) or self.line

    def raw(self) -> Any:
        node = self.doc.data
        for key in self.path:
            node = node[key]
        return node


def _yaml_key(doc: YamlDocument, base: KeyPath, field_path: tuple[str | int, ...]) -> list[str | int]:
    """Map canonical field names to the key actually written (legacy aliases)."""
    out: list[str | int] = []
    node = doc.data
    for key in base:
        node = node[key] if isinstance(node, (dict, list)) else None
    for key in field_path:
        if isinstance(node, dict) and key not in node and isinstance(key, str):
            for alias in LEGACY_ALIASES.get(key, ()):
                if alias in node:
                    key = alias
                    break
        out.append(key)
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            node = None
    return out


LEGACY_ALIASES: dict[str, tuple[str, ...]] = {
    "event_property": ("action_property",),
    "source_event": ("source_action",),
    "registration_property": ("first_appearance_property",),
    "source_event_property": ("source_action_property",),
    "window_function": ("sliding_window_function",),
}


@dataclass
class ProjectFiles:
    """Everything read from a project directory, as written."""

    root: Path
    deployment: Located[DeploymentConfig] | None = None
    entity: Located[EntityConfig] | None = None
    events: dict[str, Located[EventTable]] = field(default_factory=dict)
    properties: dict[str, Located[Property]] = field(default_factory=dict)
    kpis: dict[str, Located[Kpi]] = field(default_factory=dict)
    documents: dict[str, YamlDocument] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    # Ids of objects that are written but failed to load ("events", "properties", "kpis"):
    # their own issues are reported; a reference to one is not "unknown" a second time.
    failed: dict[str, set[str]] = field(default_factory=lambda: {"events": set(), "properties": set(), "kpis": set()})

    @property
    def ok(self) -> bool:
        return not any(issue.is_error for issue in self.issues)


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _yaml_files(root: Path, directory: Path, recursive: bool) -> list[Path]:
    if not directory.is_dir():
        return []
    pattern = "**/*" if recursive else "*"
    found = [
        p
        for p in directory.glob(pattern)
        if p.is_file() and p.suffix.lower() in YAML_SUFFIXES and not _is_hidden(p, root)
    ]
    return sorted(found, key=lambda p: _rel(root, p))


def pydantic_issues(
    err: ValidationError, doc: YamlDocument, base: KeyPath, object_id: str | None
) -> list[Issue]:
    """Turn pydantic errors into issues with the line of the offending key."""
    issues = []
    for error in err.errors(include_url=False):
        loc = _data_path(doc, base, error["loc"])
        field_name = ".".join(str(part) for part in loc[len(base):]) or None
        line = doc.line_of(loc)
        issues.append(
            Issue(doc.rel_path, line, _message(error), object_id=object_id, field=field_name, rule="schema")
        )
    return issues


def _data_path(doc: YamlDocument, base: KeyPath, loc: tuple[Any, ...]) -> KeyPath:
    """Keep only the parts of a pydantic location that exist in the YAML data."""
    path: list[str | int] = list(base)
    node: Any = doc.data
    for key in base:
        node = node[key]
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part == "from_" and "from" in node:
            path.append("from")
            node = node["from"]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_union_tag(part):
            # A missing or extra key: name it, even though it has no line of its own.
            path.append(part)
            node = None
    return tuple(path)


def _is_union_tag(part: str) -> bool:
    return "[" in part or part in {"str", "int", "list", "dict", "function-after", "function-before"}


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    loc = [p for p in error["loc"] if isinstance(p, str) and not _is_union_tag(p)]
    name = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        return f"unknown field {name!r}"
    if kind == "missing":
        return f"missing required field {name!r}"
    msg = error["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    value = error.get("input")
    if kind not in {"value_error", "model_type", "dict_type"} and not isinstance(value, (dict, list)):
        msg = f"{msg} (got {value!r})"
    return msg


def _validate(model: type[M], data: Any, doc: YamlDocument, base: KeyPath, object_id: str | None) -> tuple[M | None, list[Issue]]:
    try:
        return model.model_validate(data), []
    except ValidationError as err:
        return None, pydantic_issues(err, doc, base, object_id)


def load_project(root: Path | str) -> ProjectFiles:
    """Read every config file of the project at ``root``."""
    root = Path(root).resolve()
    project = ProjectFiles(root=root)
    if not root.is_dir():
        project.issues.append(Issue(None, None, f"project directory {root} does not exist", rule="layout"))
        return project

    def read(path: Path) -> YamlDocument | None:
        rel = _rel(root, path)
        doc, issues = read_yaml_file(path, rel)
        project.issues.extend(issues)
        if doc is not None:
            project.documents[rel] = doc
        return doc

    # asemic.yml and userentity/config.yml: one object per file.
    for rel, model, attr in ((ASEMIC_FILE, DeploymentConfig, "deployment"), (ENTITY_FILE, EntityConfig, "entity")):
        path = root / rel
        if not path.is_file():
            project.issues.append(Issue(rel, None, f"missing file {rel}", rule="layout"))
            continue
        doc = read(path)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            project.issues.append(Issue(rel, 1, "expected a mapping of fields", rule="schema"))
            continue
        obj, issues = _validate(model, doc.data, doc, (), attr)
        project.issues.extend(issues)
        if obj is not None:
            setattr(project, attr, Located(attr, obj, doc, ()))

    _load_events(project, root, read)
    _load_collection(project, root, read, "properties", Property, project.properties)
    _load_collection(project, root, read, "kpis", Kpi, project.kpis)
    project.issues.extend(name_issues(project))
    project.issues = sort_issues(project.issues)
    return project


def _load_events(project: ProjectFiles, root: Path, read) -> None:
    seen: dict[str, str] = {}
    for dirname in EVENT_DIRS:
        for path in _yaml_files(root, root / ENTITY_DIR / dirname, recursive=False):
            rel = _rel(root, path)
            event_id = path.stem
            if event_id in seen:
                project.issues.append(
                    Issue(rel, 1, f"event {event_id!r} is defined twice: in {seen[event_id]} and {rel}",
                          object_id=event_id, rule="duplicate-id")
                )
                continue
            seen[event_id] = rel
            doc = read(path)
            if doc is None:
                continue
            if not isinstance(doc.data, dict):
                project.issues.append(Issue(rel, 1, "expected a mapping of event fields", object_id=event_id, rule="schema"))
                continue
            obj, issues = _validate(EventTable, doc.data, doc, (), event_id)
            project.issues.extend(issues)
            if obj is not None:
                project.events[event_id] = Located(event_id, obj, doc, ())
            else:
                project.failed["events"].add(event_id)


def _load_collection(project: ProjectFiles, root: Path, read, top_key: str, model, target: dict) -> None:
    origin: dict[str, str] = {}
    for path in _yaml_files(root, root / ENTITY_DIR / top_key, recursive=True):
        rel = _rel(root, path)
        doc = read(path)
        if doc is None:
            continue
        data = doc.data
        if data is None:
            continue  # an empty file defines nothing
        if not isinstance(data, dict):
            project.issues.append(Issue(rel, 1, f"expected a mapping with the top key '{top_key}:'", rule="schema"))
            continue
        for key in data:
            if key != top_key:
                project.issues.append(
                    Issue(rel, doc.line_of((key,)), f"unknown top-level key {key!r}: this file may only hold '{top_key}:'",
                          field=str(key), rule="schema")
                )
        entries = data.get(top_key)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            project.issues.append(Issue(rel, doc.line_of((top_key,)), f"'{top_key}:' must be a mapping of id -> definition", rule="schema"))
            continue
        for object_id, body in entries.items():
            object_id_str = str(object_id)
            base = (top_key, object_id)
            line = doc.line_of(base)
            if object_id_str in origin:
                project.issues.append(
                    Issue(rel, line, f"{top_key[:-1] if top_key != 'properties' else 'property'} {object_id_str!r} is defined twice: "
                          f"first in {origin[object_id_str]}, again in {rel}:{line}",
                          object_id=object_id_str, rule="duplicate-id")
                )
                continue
            origin[object_id_str] = f"{rel}:{line}"
            if not isinstance(body, dict):
                project.issues.append(Issue(rel, line, "expected a mapping of fields", object_id=object_id_str, rule="schema"))
                project.failed[top_key].add(object_id_str)
                continue
            obj, issues = _validate(model, body, doc, base, object_id_str)
            project.issues.extend(issues)
            if obj is not None:
                target[object_id_str] = Located(object_id_str, obj, doc, base)
            else:
                project.failed[top_key].add(object_id_str)
