"""The lineage picture: events -> properties -> KPIs as Graphviz DOT.

Works on the engine's :class:`DependencyGraph` and only shapes it for people: hidden
inline sources (``<id>__inner``) are folded into the property that owns them, the implicit
tables are linked to the tables whose tags define them, base properties are linked to
what they are computed from, and base properties nobody uses are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from asemic_core.semantic.graph import DependencyGraph, node
from asemic_core.semantic.model import ACTIVITY, REGISTRATIONS, ResolvedProject
from asemic_core.semantic.base_properties import (
    COHORT_DAY,
    COHORT_SIZE,
    DAYS_SINCE_LAST_ACTIVE,
    LAST_ACTIVITY_DATE,
    REGISTRATION_DATE,
)

KINDS = ("event", "property", "kpi")
INNER_SUFFIX = "__inner"

# SEMANTICS 4: what each base property is computed from.
BASE_SOURCES: dict[str, str] = {
    REGISTRATION_DATE: node("event", REGISTRATIONS),
    COHORT_SIZE: node("event", REGISTRATIONS),
    COHORT_DAY: node("property", REGISTRATION_DATE),
    LAST_ACTIVITY_DATE: node("event", ACTIVITY),
    DAYS_SINCE_LAST_ACTIVE: node("property", LAST_ACTIVITY_DATE),
}
# The table tags whose union defines each implicit table (SEMANTICS 3).
IMPLICIT_TAGS: dict[str, str] = {REGISTRATIONS: "registration_event", ACTIVITY: "activity_event"}

STYLE: dict[str, dict[str, str]] = {
    "event": {"fill": "#dbeafe", "border": "#2563eb", "cluster": "#eff6ff", "title": "Events"},
    "property": {"fill": "#dcfce7", "border": "#16a34a", "cluster": "#f0fdf4", "title": "Properties"},
    "kpi": {"fill": "#ffedd5", "border": "#ea580c", "cluster": "#fff7ed", "title": "KPIs"},
}


def kind_of(key: str) -> str:
    return key.split(":", 1)[0]


def name_of(key: str) -> str:
    return key.split(":", 1)[1]


def implicit_sources(project: ResolvedProject) -> dict[str, list[str]]:
    """Implicit table id -> the event tables whose tag puts them into it."""
    return {
        implicit: sorted(e.id for e in project.events.values() if not e.implicit and tag in e.tags)
        for implicit, tag in IMPLICIT_TAGS.items()
    }


def _owner(key: str, graph: DependencyGraph) -> str:
    """The visible node a hidden inline source belongs to (itself when visible)."""
    while graph.nodes.get(key, {}).get("hidden") and key.endswith(INNER_SUFFIX):
        parent = key[: -len(INNER_SUFFIX)]
        if parent not in graph.nodes:
            break
        key = parent
    return key


def lineage_graph(graph: DependencyGraph, implicit: Mapping[str, Iterable[str]] | None = None) -> DependencyGraph:
    """The graph as shown: hidden sources folded, implicit and base edges added, unused
    base properties dropped. ``implicit`` comes from :func:`implicit_sources`."""
    out = DependencyGraph()
    for key, attrs in graph.nodes.items():
        if _owner(key, graph) == key:
            out.add_node(key, **attrs)
    for target, sources in graph.upstream.items():
        owner = _owner(target, graph)
        for source in sources:
            source_owner = _owner(source, graph)
            if source_owner != owner:
                out.add_edge(source_owner, owner)
    for table_id, sources in (implicit or {}).items():
        target = node("event", table_id)
        if target in out.nodes:
            for source in sources:
                if node("event", source) in out.nodes:
                    out.add_edge(node("event", source), target)
    for name, source in BASE_SOURCES.items():
        key = node("property", name)
        if out.nodes.get(key, {}).get("property_kind") == "base" and source in out.nodes:
            out.add_edge(source, key)
    used = {source for sources in out.upstream.values() for source in sources}
    for key, attrs in list(out.nodes.items()):
        if attrs.get("property_kind") == "base" and key not in used and not out.upstream[key]:
            del out.nodes[key]
            del out.upstream[key]
    return out


def focus_nodes(graph: DependencyGraph, key: str) -> set[str]:
    """``key`` with everything it reads and everything that reads it."""
    return {key} | graph.upstream_of(key) | graph.downstream_of(key)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tooltip(key: str, attrs: dict) -> str:
    kind = kind_of(key)
    detail = attrs.get("property_kind") or ("implicit table" if attrs.get("implicit") else kind)
    label = attrs.get("label") or name_of(key)
    return f"{name_of(key)} ({detail.replace('_', ' ')})" + (f": {label}" if label != name_of(key) else "")


def _band_order(graph: DependencyGraph, keep: set[str]) -> list[str]:
    """Invisible anchors between the bands, so that every event sits left of every
    property and every property left of every KPI (three columns, not a staircase)."""
    present = [kind for kind in KINDS if any(kind_of(k) == kind and k in keep for k in graph.nodes)]
    lines = []
    for before, after in zip(present, present[1:]):
        anchor = _quote(f"after:{before}")
        lines.append(f"  {anchor} [style=invis, shape=point, width=0, height=0, label=\"\"];")
        for key in sorted(k for k in graph.nodes if k in keep and kind_of(k) in (before, after)):
            edge = f"{_quote(key)} -> {anchor}" if kind_of(key) == before else f"{anchor} -> {_quote(key)}"
            lines.append(f"  {edge} [style=invis, weight=0];")
    return lines


def to_dot(graph: DependencyGraph, focus: str | None = None) -> str:
    """DOT of ``graph`` (as returned by :func:`lineage_graph`), left to right, one band
    per kind; with ``focus``, only that node, its upstream and its downstream."""
    keep = focus_nodes(graph, focus) if focus else set(graph.nodes)
    lines = [
        "digraph lineage {",
        '  graph [rankdir=LR, bgcolor="transparent", fontname="Helvetica", fontsize=12, nodesep=0.12, '
        "ranksep=0.7, newrank=true];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, height=0.3, margin="0.12,0.04"];',
        '  edge [color="#94a3b8", arrowsize=0.6];',
    ]
    for kind in KINDS:
        members = sorted(k for k in graph.nodes if kind_of(k) == kind and k in keep)
        if not members:
            continue
        style = STYLE[kind]
        for key in members:
            attrs = graph.nodes[key]
            node_style = "rounded,filled,dashed" if attrs.get("implicit") else "rounded,filled"
            extra = ", penwidth=2.5, fontname=\"Helvetica-Bold\"" if key == focus else ""
            lines.append(
                f"  {_quote(key)} [label={_quote(name_of(key))}, tooltip={_quote(_tooltip(key, attrs))}, "
                f'style={_quote(node_style)}, fillcolor={_quote(style["fill"])}, color={_quote(style["border"])}{extra}];'
            )
    tables = [k for k in sorted(keep) if kind_of(k) == "event" and not graph.nodes[k].get("implicit")]
    if len(tables) > 1:  # the warehouse tables in the first column
        lines.append("  { rank=same; " + " ".join(_quote(k) + ";" for k in tables) + " }")
    lines += _band_order(graph, keep)
    for target in sorted(graph.upstream):
        if target not in keep:
            continue
        for source in sorted(graph.upstream[target]):
            if source in keep:
                lines.append(f"  {_quote(source)} -> {_quote(target)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
