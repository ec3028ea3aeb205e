"""Where a new property or KPI is written by default."""

from __future__ import annotations

from asemic_core.config.loader import ENTITY_DIR, ProjectFiles
from asemic_core.semantic.placeholders import references


def collection_files(files: ProjectFiles, collection: str) -> list[str]:
    """Files that hold ``properties:`` or ``kpis:`` (relative paths, sorted)."""
    found = {located.file for located in getattr(files, collection).values()}
    prefix = f"{ENTITY_DIR}/{collection}/"
    found |= {rel for rel in files.documents if rel.startswith(prefix)}
    return sorted(found)


def default_property_file(files: ProjectFiles, kind: str, new_id: str = "", source: str | None = None) -> str:
    """Where a new property of ``kind`` goes by default: the file holding the most
    properties of that kind, else the file of the property it aggregates (``source``),
    else the first property file, else ``<id>.yml``."""
    counts: dict[str, int] = {}
    for located in files.properties.values():
        if located.model.kind == kind:
            counts[located.file] = counts.get(located.file, 0) + 1
    if counts:
        return max(sorted(counts), key=lambda f: counts[f])
    if source and source in files.properties:
        return files.properties[source].file
    existing = collection_files(files, "properties")
    if existing:
        return existing[0]
    return f"{ENTITY_DIR}/properties/{new_id or 'properties'}.yml"


def default_kpi_file(files: ProjectFiles, property_refs: set[str] = frozenset()) -> str:
    """Where a new KPI goes by default: the file whose KPIs use the most of the same
    properties (distinct), then the file with the most KPIs, else ``kpis.yml``."""
    shared: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for located in files.kpis.values():
        refs = {r.name for r in references(located.model.select) if r.namespace == "property"}
        shared.setdefault(located.file, set()).update(refs & set(property_refs))
        sizes[located.file] = sizes.get(located.file, 0) + 1
    if sizes:
        return max(sorted(sizes), key=lambda f: (len(shared[f]), sizes[f]))
    existing = collection_files(files, "kpis")
    return existing[0] if existing else f"{ENTITY_DIR}/kpis/kpis.yml"
