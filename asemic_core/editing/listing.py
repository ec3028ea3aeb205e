"""What the studio lists and offers: rows of properties and KPIs, the choices a form
gives (events, columns, referencable properties) and who uses an object."""

from __future__ import annotations

from dataclasses import dataclass

from asemic_core.config.loader import ProjectFiles
from asemic_core.editing.wording import describe_property
from asemic_core.issues import Issue
from asemic_core.semantic.graph import build_graph, node
from asemic_core.semantic.model import REGISTRATIONS, ResolvedProject
from asemic_core.semantic.placeholders import references
from asemic_core.semantic.resolve_kpis import template_values
from asemic_core.semantic.resolve_properties import default_label

NUMERIC_TYPES = ("NUMBER", "INTEGER")


@dataclass(frozen=True)
class PropertyRow:
    id: str
    kind: str  # a config kind, or "base" for built-in properties
    label: str
    data_type: str
    description: str
    definition: str
    file: str | None
    line: int | None
    can_filter: bool
    can_group_by: bool
    errors: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "built in"


@dataclass(frozen=True)
class KpiRow:
    id: str  # as written (`retention_d{}` for a templated KPI)
    label: str
    select: str
    where: str
    axes: str
    unit: str
    template: str  # "" or the template values
    description: str
    file: str
    line: int
    errors: int = 0

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


def _error_counts(issues: list[Issue]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for issue in issues:
        if issue.is_error and issue.object_id:
            counts[issue.object_id] = counts.get(issue.object_id, 0) + 1
    return counts


def property_rows(files: ProjectFiles, resolved: ResolvedProject, issues: list[Issue] = ()) -> list[PropertyRow]:
    """Every property of the config, then the built-in ones, each once."""
    errors = _error_counts(list(issues))
    rows = []
    for prop_id, located in files.properties.items():
        prop = located.model
        resolved_prop = resolved.properties.get(prop_id)
        rows.append(PropertyRow(
            prop_id, prop.kind, prop.label or (resolved_prop.label if resolved_prop else default_label(prop_id)),
            prop.data_type.value, prop.description or "", describe_property(prop), located.file, located.line,
            prop.can_filter, prop.can_group_by, errors.get(prop_id, 0)))
    for prop in resolved.properties.values():
        if prop.is_base and prop.id not in files.properties:
            rows.append(PropertyRow(prop.id, "base", prop.label, prop.data_type.value, prop.description or "",
                                    "built in", None, None, prop.can_filter, prop.can_group_by))
    return rows


def filter_rows(rows: list, query: str, kinds: list[str] | None = None) -> list:
    """Rows whose id, label, description or definition contain every word of ``query``."""
    words = query.lower().split()
    out = []
    for row in rows:
        if kinds and getattr(row, "kind", None) not in kinds:
            continue
        text = " ".join(str(v) for v in vars(row).values()).lower()
        if all(word in text for word in words):
            out.append(row)
    return out


def _template_text(kpi, files: ProjectFiles) -> str:
    if kpi.template is None:
        return ""
    entity = files.entity.model if files.entity else None
    values = ", ".join(str(v) for v in template_values(kpi, entity))
    return f"cohort_day: {values}" if kpi.template == "cohort_day" else values


def kpi_rows(files: ProjectFiles, issues: list[Issue] = ()) -> list[KpiRow]:
    """Every KPI as written: a templated one once, with its template values."""
    errors = _error_counts(list(issues))
    rows = []
    for kpi_id, located in files.kpis.items():
        kpi = located.model
        axes = ", ".join(f"{name} ({axis.total_function or kpi.total_function or 'sum'})"
                         for name, axis in kpi.x_axis.items())
        unit = ""
        if kpi.unit is not None:
            unit = f"{kpi.unit.symbol}…" if kpi.unit.is_prefix else f"…{kpi.unit.symbol}"
        rows.append(KpiRow(kpi_id, kpi.label or default_label(kpi_id), kpi.select, kpi.where or "", axes, unit,
                           _template_text(kpi, files), kpi.description or "", located.file, located.line,
                           errors.get(kpi_id, 0)))
    return rows


# ------------------------------------------------------------------- form choices


def event_ids(resolved: ResolvedProject) -> list[str]:
    """Event tables a property may read, the implicit ones first."""
    implicit = sorted(e.id for e in resolved.events.values() if e.implicit)
    return implicit + sorted(e.id for e in resolved.events.values() if not e.implicit)


def event_columns(resolved: ResolvedProject, event_id: str | None) -> list[str]:
    event = resolved.events.get(event_id or "")
    if event is None:
        return []
    columns = list(event.columns)
    return columns if "date" in columns else columns + ["date"]


def registration_columns(resolved: ResolvedProject) -> list[str]:
    return event_columns(resolved, REGISTRATIONS)


def users_of(resolved: ResolvedProject, kind: str, object_id: str) -> list[str]:
    """The properties and KPIs that read ``object_id`` directly (``property:x``, ``kpi:k``);
    a hidden inline source counts as its parent."""
    graph = build_graph(resolved)
    key = node(kind, object_id)
    found = set()
    for target, sources in graph.upstream.items():
        if key in sources and target != key:
            target_kind, name = target.split(":", 1)
            prop = resolved.properties.get(name) if target_kind == "property" else None
            if prop is not None and prop.hidden and prop.parent:
                if prop.parent == object_id:
                    continue
                target = node("property", prop.parent)
            found.add(target)
    return sorted(found)


def kpi_users(resolved: ResolvedProject, kpi_id: str) -> list[str]:
    """The KPIs that read ``kpi_id`` (any of its template values), besides itself."""
    ids = [k.id for k in resolved.kpis.values() if k.template_id == kpi_id] or [kpi_id]
    found = {u for i in ids for u in users_of(resolved, "kpi", i)}
    return sorted(u for u in found if u.split(":", 1)[1] not in ids)


def property_refs(expression: str | None) -> list[str]:
    """The properties a KPI expression names as ``{property.x}`` (sorted, once each)."""
    return sorted({r.name for r in references(expression) if r.namespace == "property"})


def source_property_options(resolved: ResolvedProject, prop_id: str, broken: set[str] = frozenset()) -> list[str]:
    """Properties a window or lifetime property may aggregate: not itself, not a hidden
    inline source, not one that already reads it (a cycle), not one with errors."""
    graph = build_graph(resolved)
    downstream = {k.split(":", 1)[1] for k in graph.downstream_of(node("property", prop_id))} if prop_id else set()
    return [p.id for p in resolved.properties.values()
            if not p.hidden and p.id != prop_id and p.id not in downstream and p.id not in broken]


def reference_properties(resolved: ResolvedProject, exclude: str = "") -> list[str]:
    """Properties a computed property may reference as ``{id}``."""
    return [p.id for p in resolved.properties.values() if not p.hidden and p.id != exclude]


def aggregatable_properties(resolved: ResolvedProject, function: str) -> list[str]:
    """Properties a KPI may aggregate with ``function`` (SUM and AVG need numbers)."""
    numeric_only = function.lower() in ("sum", "avg")
    return [p.id for p in resolved.properties.values()
            if not p.hidden and (not numeric_only or p.data_type.value in NUMERIC_TYPES)]


def filterable_properties(resolved: ResolvedProject) -> list[str]:
    return [p.id for p in resolved.properties.values() if not p.hidden and p.can_filter]


def kpi_reference_options(resolved: ResolvedProject, kpi_id: str, axes: list[str]) -> list[str]:
    """KPIs another KPI may reference: not itself (nor its own template values), and
    defining every axis it uses."""
    return [k.id for k in resolved.kpis.values()
            if k.id != kpi_id and k.template_id != kpi_id and set(axes) <= set(k.x_axes)]
