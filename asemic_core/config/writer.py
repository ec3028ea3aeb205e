"""Write config objects back to their YAML files, changing only what changed.

One function per kind of object (properties and KPIs in collection files, event tables,
the entity config, the deployment) finds the object's file and key path and hands the
new text to ``yaml_edit.edit_yaml_text`` (the minimal-diff editor), which re-parses and
verifies it; writes are atomic (temporary file in the same directory + ``os.replace``)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from asemic_core.config.loader import ASEMIC_FILE, ENTITY_DIR, ENTITY_FILE, EVENT_DIRS, YAML_SUFFIXES, _yaml_files
from asemic_core.config.models import DeploymentConfig, EntityConfig, EventTable, Kpi, Property
from asemic_core.config.yaml_edit import edit_yaml_text, get_at, parse_document, target_data
from asemic_core.config.yaml_equivalence import strictly_equal
from asemic_core.config.yaml_io import KeyPath
from asemic_core.errors import ConfigError
from asemic_core.names import identifier_problem

__all__ = [
    "save_object",
    "save_property",
    "save_kpi",
    "save_event",
    "save_entity_config",
    "save_deployment",
    "delete_property",
    "delete_kpi",
]

# ------------------------------------------------------------------------ file I/O


def _read(path: Path, rel_file: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"cannot edit {rel_file}: the file is not UTF-8 text ({err.reason})") from err
    except OSError as err:
        raise ConfigError(f"cannot read {rel_file}: {err.strerror}") from err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = (path.stat().st_mode & 0o7777) if path.exists() else (0o666 & ~_umask())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_object(
    root: Path | str,
    rel_file: str,
    key_path: KeyPath,
    new: BaseModel | dict | None,
    *,
    model_type: type[BaseModel] | None = None,
) -> bool:
    """Write one object (``new``; ``None`` deletes it) at ``key_path`` of ``rel_file``.

    Creates the file if needed. Returns whether the file was written: an object equal to
    what the file already holds (model equality for models) writes nothing.
    """
    path = Path(root) / rel_file
    text = _read(path, rel_file) if path.exists() else ""
    delete = new is None
    if not delete:
        doc = parse_document(text.replace("\r\n", "\n"), rel_file)
        found, current = get_at(doc.data, key_path)
        if found:
            _data, model, mtype = target_data(new, model_type)
            if model is not None and mtype is not None:
                try:
                    if mtype.model_validate(current) == model:
                        return False
                except (ValidationError, TypeError, ValueError):
                    pass
            elif strictly_equal(current, _data):
                return False
    new_text = edit_yaml_text(text, rel_file, key_path, new, model_type=model_type, delete=delete)
    if new_text == text and path.exists():
        return False
    _atomic_write(path, new_text)
    return True


# ----------------------------------------------------------------- per-object helpers

_SAFE_FILE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _coerce(model: Any, cls: type[BaseModel]) -> BaseModel:
    if isinstance(model, cls):
        return model
    if isinstance(model, dict):
        try:
            return cls.model_validate(model)
        except ValidationError as err:
            raise ConfigError(f"invalid {cls.__name__}: {err}") from err
    raise TypeError(f"expected a {cls.__name__}, got {type(model).__name__}")


def _locate(root: Path, top_key: str, object_id: str) -> tuple[str, Any] | None:
    """The file (relative path) defining ``object_id`` under ``top_key:`` and the key as
    written (``123:`` is an int key), as the loader sees it (first file in path order).
    When the id is not found and some file of the directory does not parse, raise: the
    object might be defined there."""
    broken: list[ConfigError] = []
    for path in _yaml_files(root, root / ENTITY_DIR / top_key, recursive=True):
        rel = path.relative_to(root).as_posix()
        try:
            doc = parse_document(_read(path, rel).replace("\r\n", "\n"), rel)
        except ConfigError as err:
            broken.append(err)
            continue
        data = doc.data
        if isinstance(data, dict) and isinstance(data.get(top_key), dict):
            for key in data[top_key]:
                if str(key) == object_id:
                    return rel, key
    if broken:
        raise broken[0]
    return None


def _collection_file(root: Path, top_key: str, file: str | os.PathLike) -> str:
    candidate = Path(file)
    if candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(root)
        except ValueError:
            raise ConfigError(f"{file} is not inside the project {root}") from None
    rel = candidate.as_posix()
    parts = candidate.parts
    if (
        len(parts) < 3
        or parts[0] != ENTITY_DIR
        or parts[1] != top_key
        or any(part in ("..", ".") or part.startswith(".") for part in parts)
        or candidate.suffix.lower() not in YAML_SUFFIXES
    ):
        raise ConfigError(f"{rel}: {top_key} must be saved in a .yml file under {ENTITY_DIR}/{top_key}/")
    return rel


def _save_in_collection(root: Path | str, top_key: str, object_id: str, model: Any, cls: type[BaseModel],
                        file: str | os.PathLike | None) -> str:
    root = Path(root).resolve()
    if not isinstance(object_id, str) or not object_id:
        raise ConfigError(f"invalid {top_key} id {object_id!r}")
    model = _coerce(model, cls)
    located = _locate(root, top_key, object_id)
    current, key = located if located is not None else (None, object_id)
    wanted = _collection_file(root, top_key, file) if file is not None else None
    if current is not None and (wanted is None or wanted == current):
        save_object(root, current, (top_key, key), model)
        return current
    if wanted is None:
        if not _SAFE_FILE_ID.match(object_id):
            raise ConfigError(f"cannot derive a file name from id {object_id!r}: pass file=")
        wanted = f"{ENTITY_DIR}/{top_key}/{object_id}.yml"
    save_object(root, wanted, (top_key, object_id), model)
    if current is not None:  # moved to another file
        save_object(root, current, (top_key, key), None)
    return wanted


def _delete_in_collection(root: Path | str, top_key: str, object_id: str, kind: str) -> str:
    root = Path(root).resolve()
    located = _locate(root, top_key, object_id)
    if located is None:
        raise ConfigError(f"{kind} {object_id!r} not found in {ENTITY_DIR}/{top_key}/")
    save_object(root, located[0], (top_key, located[1]), None)
    return located[0]


def save_property(root: Path | str, property_id: str, model: Property | dict,
                  file: str | os.PathLike | None = None) -> str:
    """Save a property where it is defined; a new one goes to ``file`` (default
    ``userentity/properties/<id>.yml``). Giving another ``file`` for an existing property
    moves it there. Returns the file (relative to the project)."""
    return _save_in_collection(root, "properties", property_id, model, Property, file)


def save_kpi(root: Path | str, kpi_id: str, model: Kpi | dict, file: str | os.PathLike | None = None) -> str:
    """As :func:`save_property`, for ``kpis:`` (default ``userentity/kpis/<id>.yml``)."""
    return _save_in_collection(root, "kpis", kpi_id, model, Kpi, file)


def delete_property(root: Path | str, property_id: str) -> str:
    """Remove a property from its file; returns that file. Unknown id -> ConfigError."""
    return _delete_in_collection(root, "properties", property_id, "property")


def delete_kpi(root: Path | str, kpi_id: str) -> str:
    """Remove a KPI from its file; returns that file. Unknown id -> ConfigError."""
    return _delete_in_collection(root, "kpis", kpi_id, "KPI")


def save_event(root: Path | str, event_id: str, model: EventTable | dict) -> str:
    """Save an event table into its file (``events/`` or ``actions/``), creating
    ``userentity/events/<id>.yml`` for a new one."""
    root = Path(root).resolve()
    if not isinstance(event_id, str) or identifier_problem(event_id):
        raise ConfigError(f"invalid event id {event_id!r}: use letters, digits and _")
    model = _coerce(model, EventTable)
    rel = f"{ENTITY_DIR}/events/{event_id}.yml"
    for dirname in EVENT_DIRS:
        matches = [p for p in _yaml_files(root, root / ENTITY_DIR / dirname, recursive=False) if p.stem == event_id]
        if matches:
            rel = matches[0].relative_to(root).as_posix()
            break
    save_object(root, rel, (), model)
    return rel


def save_entity_config(root: Path | str, model: EntityConfig | dict) -> str:
    """Save ``userentity/config.yml``."""
    save_object(Path(root).resolve(), ENTITY_FILE, (), _coerce(model, EntityConfig))
    return ENTITY_FILE


def save_deployment(root: Path | str, model: DeploymentConfig | dict) -> str:
    """Save ``asemic.yml``."""
    save_object(Path(root).resolve(), ASEMIC_FILE, (), _coerce(model, DeploymentConfig))
    return ASEMIC_FILE
