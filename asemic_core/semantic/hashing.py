"""Definition hashes: a column is stale when the hash it was computed with differs from
the hash of its current definition (its own and, recursively, its inputs')."""

from __future__ import annotations

import hashlib
import json

from asemic_core.semantic.graph import dependency_closure
from asemic_core.semantic.model import ResolvedProject
from asemic_core.semantic.base_properties import ACTIVITY_BASED, REGISTRATION_BASED


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def event_signature(project: ResolvedProject, event_id: str) -> str:
    event = project.events.get(event_id)
    if event is None:
        return "missing"
    if event.implicit:
        tag = "registration_event" if event.id == "entity_registrations" else "activity_event"
        parts = [event_signature(project, e.id) for e in sorted(project.events.values(), key=lambda e: e.id)
                 if tag in e.tags and not e.implicit]
        return _digest({"implicit": event.id, "parts": parts, "columns": sorted(event.columns)})
    return _digest({"table": event.table_name, "where": event.where, "columns": {k: v.value for k, v in event.columns.items()},
                    "entity": event.entity_id_column, "ts": event.timestamp_column, "date": event.date_column,
                    "tags": sorted(event.tags)})


def definition_hashes(project: ResolvedProject) -> dict[str, str]:
    """Hash per property id (base properties included)."""
    hashes: dict[str, str] = {}
    # Dependencies first, so every input's hash is known; an unknown input, or one on a
    # cycle (not hashed yet when its reader is), counts as "missing".
    for prop_id in dependency_closure(project, list(project.properties), strict=False):
        prop = project.properties[prop_id]
        deps = {dep: hashes.get(project.property_aliases.get(dep, dep), "missing") for dep in prop.depends_on}
        payload = {
            "kind": prop.kind,
            "type": prop.data_type.value,
            "definition": prop.definition.model_dump(mode="json") if prop.definition is not None else prop.id,
            "deps": deps,
        }
        if prop.source_event:
            payload["event"] = event_signature(project, prop.source_event)
        if prop.kind == "registration_property" or (prop.is_base and prop.id in REGISTRATION_BASED):
            payload["registrations"] = event_signature(project, "entity_registrations")
        if prop.is_base and prop.id in ACTIVITY_BASED:
            payload["activity"] = event_signature(project, "entity_activity")
        hashes[prop.id] = _digest(payload)
    return hashes
