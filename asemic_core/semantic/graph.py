"""The dependency walks: what a property reads, the closure of properties a computation
needs (dependencies first), and the graph events -> properties -> KPIs (lineage, impact,
cycle detection). Validation, planning, schema generation, hashing and lineage all walk
dependencies through this module."""

from __future__ import annotations

from dataclasses import dataclass, field

from asemic_core.semantic.model import ResolvedProject, ResolvedProperty
from asemic_core.semantic.base_properties import BASE_DEPENDENCIES, DATE
from asemic_core.semantic.placeholders import canonical_property_name, references


def node(kind: str, name: str) -> str:
    return f"{kind}:{name}"


@dataclass
class DependencyGraph:
    """Edges point from a dependency to what uses it (upstream -> downstream)."""

    nodes: dict[str, dict] = field(default_factory=dict)
    upstream: dict[str, set[str]] = field(default_factory=dict)  # node -> what it reads

    def add_node(self, key: str, **attrs) -> None:
        self.nodes.setdefault(key, {}).update(attrs)
        self.upstream.setdefault(key, set())

    def add_edge(self, source: str, target: str) -> None:
        """``target`` reads ``source``."""
        self.add_node(source)
        self.add_node(target)
        self.upstream[target].add(source)

    def downstream_of(self, key: str) -> set[str]:
        return self._walk(key, self._downstream_map())

    def upstream_of(self, key: str) -> set[str]:
        return self._walk(key, self.upstream)

    def _downstream_map(self) -> dict[str, set[str]]:
        down: dict[str, set[str]] = {k: set() for k in self.nodes}
        for target, sources in self.upstream.items():
            for source in sources:
                down[source].add(target)
        return down

    @staticmethod
    def _walk(start: str, edges: dict[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        pending = list(edges.get(start, ()))
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            pending.extend(edges.get(current, ()))
        return seen

    def cycles(self) -> list[list[str]]:
        """Every elementary cycle found by a depth-first search, each spelled out once."""
        found: list[list[str]] = []
        seen_keys: set[frozenset[str]] = set()
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(current: str) -> None:
            state[current] = 1
            stack.append(current)
            for source in sorted(self.upstream.get(current, ())):
                if state.get(source) == 1:
                    cycle = stack[stack.index(source):] + [source]
                    key = frozenset(cycle)
                    if key not in seen_keys:
                        seen_keys.add(key)
                        found.append(cycle)  # each element reads the next one
                elif source not in state:
                    visit(source)
            stack.pop()
            state[current] = 2

        for start in sorted(self.nodes):
            if start not in state:
                visit(start)
        return found

    def topological(self, keys: list[str] | None = None) -> list[str]:
        """Dependencies first; nodes on cycles are left out."""
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(current: str) -> bool:
            if state.get(current) == 2:
                return True
            if state.get(current) == 1:
                return False
            state[current] = 1
            ok = all(visit(source) for source in sorted(self.upstream.get(current, ())))
            state[current] = 2
            if ok:
                order.append(current)
            return ok

        for start in sorted(keys if keys is not None else self.nodes):
            visit(start)
        return order


def property_inputs(project: ResolvedProject, prop: ResolvedProperty) -> tuple[str, ...]:
    """What a property reads (aliases resolved): its own references, a base property's
    base inputs, and ``date`` for a fixed window."""
    if prop.is_base:
        return BASE_DEPENDENCIES[prop.id]
    deps = tuple(project.property_aliases.get(d, d) for d in prop.depends_on)
    if prop.kind == "fixed_window_property":
        deps += (DATE,)
    return deps


def dependency_closure(project: ResolvedProject, names: list[str], strict: bool = True) -> list[str]:
    """The properties ``names`` need, dependencies first (base properties included).

    With ``strict=False`` (describing a config that does not validate), unknown
    references and cycles are skipped instead of raising.
    """
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        prop = project.get_property(name)
        if prop is None:
            if not strict:
                return
            raise KeyError(name)
        if prop.id in seen:
            return
        if prop.id in stack:
            if not strict:
                return
            raise ValueError(f"circular dependency: {' -> '.join(stack + (prop.id,))}")
        for dep in property_inputs(project, prop):
            visit(dep, stack + (prop.id,))
        seen.add(prop.id)
        order.append(prop.id)

    for name in names:
        visit(name, ())
    return order


def build_graph(project: ResolvedProject) -> DependencyGraph:
    graph = DependencyGraph()
    for event in project.events.values():
        graph.add_node(node("event", event.id), kind="event", label=event.id, implicit=event.implicit)
    for prop in project.properties.values():
        key = node("property", prop.id)
        graph.add_node(key, kind="property", property_kind=prop.kind, label=prop.label, hidden=prop.hidden)
        if prop.source_event:
            graph.add_edge(node("event", prop.source_event), key)
        if prop.kind == "registration_property":
            graph.add_edge(node("event", "entity_registrations"), key)
        for dep in prop.depends_on:
            graph.add_edge(node("property", project.property_aliases.get(dep, dep)), key)
    for kpi in project.kpis.values():
        key = node("kpi", kpi.id)
        graph.add_node(key, kind="kpi", label=kpi.label)
        for ref in kpi.kpi_refs:
            graph.add_edge(node("kpi", ref), key)
        for ref in kpi.property_refs:
            graph.add_edge(node("property", ref), key)
        if kpi.where:
            for ref in references(kpi.where):
                graph.add_edge(node("property", project.property_aliases.get(ref.name, canonical_property_name(ref.name))), key)
    return graph
