"""The lineage picture: folding of inline sources, implicit and base edges, focus, DOT."""

from __future__ import annotations

import re

from asemic_core.lineage import focus_nodes, implicit_sources, lineage_graph, to_dot
from asemic_core.project import Project
from asemic_core.semantic.graph import DependencyGraph


def make_graph() -> DependencyGraph:
    graph = DependencyGraph()
    graph.add_node("event:purchase", kind="event", label="purchase", implicit=False)
    graph.add_node("event:session", kind="event", label="session", implicit=False)
    graph.add_node("event:entity_activity", kind="event", label="entity_activity", implicit=True)
    graph.add_node("event:entity_registrations", kind="event", label="entity_registrations", implicit=True)
    for name in ("date", "entity_id", "cohort_day", "registration_date"):
        graph.add_node(f"property:{name}", kind="property", property_kind="base", label=name, hidden=False)
    graph.add_node("property:revenue", kind="property", property_kind="event_property", label="Revenue", hidden=False)
    graph.add_node("property:max_price", kind="property", property_kind="lifetime_property", label="Max", hidden=False)
    graph.add_node("property:max_price__inner", kind="property", property_kind="event_property", label="src",
                   hidden=True)
    graph.add_node("kpi:revenue", kind="kpi", label="Revenue")
    graph.add_node("kpi:max_price", kind="kpi", label="Max price")
    graph.add_node("kpi:cohort", kind="kpi", label="Cohort")
    graph.add_edge("event:purchase", "property:revenue")
    graph.add_edge("event:purchase", "property:max_price__inner")
    graph.add_edge("property:max_price__inner", "property:max_price")
    graph.add_edge("property:revenue", "kpi:revenue")
    graph.add_edge("property:max_price", "kpi:max_price")
    graph.add_edge("property:cohort_day", "kpi:cohort")
    return graph


def test_hidden_sources_fold_into_their_property():
    shown = lineage_graph(make_graph())
    assert "property:max_price__inner" not in shown.nodes
    assert shown.upstream["property:max_price"] == {"event:purchase"}
    assert all("__inner" not in s for sources in shown.upstream.values() for s in sources)


def test_implicit_tables_and_base_properties_are_linked_and_unused_base_dropped():
    shown = lineage_graph(make_graph(), {"entity_activity": ["session"], "entity_registrations": ["purchase"]})
    assert shown.upstream["event:entity_activity"] == {"event:session"}
    assert shown.upstream["event:entity_registrations"] == {"event:purchase"}
    assert shown.upstream["property:cohort_day"] == {"property:registration_date"}
    assert shown.upstream["property:registration_date"] == {"event:entity_registrations"}
    assert "property:date" not in shown.nodes and "property:entity_id" not in shown.nodes


def test_focus_keeps_upstream_and_downstream_only():
    shown = lineage_graph(make_graph())
    assert focus_nodes(shown, "property:revenue") == {"event:purchase", "property:revenue", "kpi:revenue"}
    dot = to_dot(shown, "property:revenue")
    assert '"kpi:max_price"' not in dot
    assert '"event:purchase" -> "property:revenue";' in dot
    assert '"property:revenue" -> "kpi:revenue";' in dot
    assert "penwidth=2.5" in dot  # the focused node stands out


def test_dot_colors_nodes_by_kind():
    dot = to_dot(lineage_graph(make_graph()))
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    fills = {kind: set(re.findall(r'"%s:[^"]+" \[[^\]]*fillcolor="(#[0-9a-f]+)"' % kind, dot))
             for kind in ("event", "property", "kpi")}
    assert all(len(colors) == 1 for colors in fills.values())
    assert len(set.union(*fills.values())) == 3
    assert 'style="rounded,filled,dashed"' in dot  # the implicit tables


def test_dot_orders_the_bands_events_properties_kpis():
    dot = to_dot(lineage_graph(make_graph()))
    anchors = re.findall(r'^  "(after:\w+)" \[style=invis', dot, flags=re.M)
    assert anchors == ["after:event", "after:property"]
    assert '"event:purchase" -> "after:event" [style=invis, weight=0];' in dot
    assert '"after:event" -> "property:revenue" [style=invis, weight=0];' in dot
    assert '"property:revenue" -> "after:property" [style=invis, weight=0];' in dot
    assert '"after:property" -> "kpi:revenue" [style=invis, weight=0];' in dot
    assert '{ rank=same; "event:purchase"; "event:session"; }' in dot  # tables in the first column
    # a focus with no property in it needs no anchor between properties and KPIs
    graph = DependencyGraph()
    graph.add_node("event:a", kind="event", label="a", implicit=False)
    graph.add_node("kpi:k", kind="kpi", label="k")
    graph.add_edge("event:a", "kpi:k")
    assert re.findall(r'^  "(after:\w+)" \[', to_dot(graph), flags=re.M) == ["after:event"]


def test_dot_quotes_labels():
    graph = DependencyGraph()
    graph.add_node("kpi:x", kind="kpi", label='Say "hi"')
    assert 'tooltip="x (kpi): Say \\"hi\\""' in to_dot(graph)


def test_fixture_project_lineage(project):
    resolved = Project(project.root).resolved()
    sources = implicit_sources(resolved)
    tagged = {tag: sorted(e for e, loc in Project(project.root).files().events.items() if tag in loc.model.tags)
              for tag in ("registration_event", "activity_event")}
    assert sources == {"entity_registrations": tagged["registration_event"], "entity_activity": tagged["activity_event"]}
    assert sources["entity_activity"]
    shown = lineage_graph(Project(project.root).lineage(), sources)
    assert not any(key.endswith("__inner") for key in shown.nodes)
    assert {k.split(":")[0] for k in shown.nodes} == {"event", "property", "kpi"}
    # every KPI reaches some event table through the graph
    for key in (k for k in shown.nodes if k.startswith("kpi:")):
        assert any(u.startswith("event:") for u in shown.upstream_of(key)), key
