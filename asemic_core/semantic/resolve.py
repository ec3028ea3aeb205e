"""Resolution: from the files as written to the objects everything else uses."""

from __future__ import annotations

from asemic_core.config.loader import ProjectFiles
from asemic_core.semantic.model import ResolvedProject
from asemic_core.semantic.resolve_events import resolve_events
from asemic_core.semantic.resolve_kpis import resolve_kpis
from asemic_core.semantic.resolve_properties import resolve_properties


def resolve(files: ProjectFiles) -> ResolvedProject:
    """Resolve whatever loaded; never raises for a config mistake (validation reports)."""
    entity = files.entity.model if files.entity else None
    events = resolve_events(files)
    properties, aliases = resolve_properties(files, events)
    kpis = resolve_kpis(files, entity, properties, aliases)
    return ResolvedProject(entity=entity, events=events, properties=properties, kpis=kpis, property_aliases=aliases)
