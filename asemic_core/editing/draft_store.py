"""Unsaved editor drafts kept on disk per project (``.asemic/drafts/<kind>.json``), so a
draft survives a reload of the studio, a navigation or a restart until it is saved or
discarded. A draft is the editor's plain form dict (dates are tagged in the JSON)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

DRAFTS_DIR = Path(".asemic") / "drafts"
_DATE = "__date__"


def _path(root: str | os.PathLike, kind: str) -> Path:
    return Path(root) / DRAFTS_DIR / f"{kind}.json"


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dt.date):
        return {_DATE: value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_DATE}:
            return dt.date.fromisoformat(value[_DATE])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def save_draft(root: str | os.PathLike, kind: str, form: dict) -> None:
    """Keep ``form`` as the unsaved draft of ``kind`` (written atomically)."""
    path = _path(root, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_encode(form), sort_keys=True, indent=1)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    scratch = path.with_suffix(".tmp")
    scratch.write_text(text, encoding="utf-8")
    scratch.replace(path)


def load_draft(root: str | os.PathLike, kind: str) -> dict | None:
    """The unsaved draft of ``kind``, or None (an unreadable file counts as none)."""
    path = _path(root, kind)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _decode(data) if isinstance(data, dict) and "id" in data else None


def discard_draft(root: str | os.PathLike, kind: str) -> None:
    _path(root, kind).unlink(missing_ok=True)
