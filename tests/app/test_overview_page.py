"""Overview: counts, health, freshness, recent jobs, and the lineage graph with focus."""

from __future__ import annotations

import re

OVERVIEW = "pages/overview.py"


def dot_of(app) -> str:
    charts = app.get("graphviz_chart")
    assert len(charts) == 1
    return charts[0].proto.spec


def nodes_of(dot: str) -> set[str]:
    return set(re.findall(r'^\s+"((?:event|property|kpi):[^"]+)" \[', dot, flags=re.M))


def test_counts_health_freshness_and_jobs(app, studio_project):
    app.switch_page(OVERVIEW).run()
    assert not app.exception
    files = studio_project.files()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Event tables"] == str(len(files.events))
    assert metrics["Properties"] == str(len(files.properties))
    assert metrics["KPIs"] == str(len(files.kpis))
    assert metrics["Materialized through"] == studio_project.status().watermark
    assert metrics["Columns to update"] == "0"
    assert any("Config is valid" in s.value for s in app.success)
    assert any("Dry run against the warehouse **passed**" in m.value for m in app.markdown)
    jobs = [df.value for df in app.dataframe if "job" in df.value.columns]
    assert len(jobs) == 1 and list(jobs[0]["status"]) == ["succeeded"]


def test_lineage_graph_shows_every_kind_without_inner_nodes(app, studio_project):
    app.switch_page(OVERVIEW).run()
    dot = dot_of(app)
    nodes = nodes_of(dot)
    files = studio_project.files()
    assert {f"event:{e}" for e in files.events} <= nodes
    assert {f"kpi:{k}" for k in ("dau", "revenue", "arppu")} <= nodes
    assert "property:revenue_on_day" in nodes
    assert not any("__inner" in n for n in nodes)
    assert '"event:purchase" -> "property:revenue_on_day";' in dot


def test_focus_shows_only_upstream_and_downstream(app):
    app.switch_page(OVERVIEW).run()
    everything = nodes_of(dot_of(app))
    app.selectbox(key="overview_focus").set_value("property:revenue_on_day").run()
    assert not app.exception
    focused = nodes_of(dot_of(app))
    assert focused < everything
    assert {"property:revenue_on_day", "event:purchase", "kpi:revenue", "kpi:arppu", "property:lifetime_revenue"} <= focused
    assert "kpi:dau" not in focused and "event:session" not in focused
    assert any("`revenue_on_day` reads" in c.value for c in app.caption)


def test_invalid_config_shows_its_issues(app, studio_project):
    path = studio_project.root / "userentity" / "kpis" / "revenue.yml"
    path.write_text(path.read_text().replace("{property.revenue_on_day}", "{property.no_such_property}", 1))
    app.switch_page(OVERVIEW).run()
    assert not app.exception
    assert [e.value for e in app.error] == ["1 error(s), 0 warning(s) in the config."]
    issues = [df.value for df in app.dataframe if "message" in df.value.columns]
    assert issues and any("no_such_property" in m for m in issues[0]["message"])
