"""A templated KPI that expands onto another KPI's id is reported, naming both."""

from __future__ import annotations


def test_template_expanding_onto_an_existing_kpi_id(project):
    rel = "userentity/kpis/revenue.yml"
    project.append(rel, "  ltv_d7:\n    select: 'SUM({property.revenue_lifetime})'\n    x_axis: {date: {}}\n")
    errors = project.errors()
    assert len(errors) == 1, [e.format() for e in errors]
    [issue] = errors
    assert issue.rule == "duplicate-id" and issue.field == "template"
    assert "'ltv_d7'" in issue.message and rel in issue.message
