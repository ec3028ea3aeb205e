"""Property-based tests: the engine against the reference implementation on random projects.

Each example is a random small project (``random_project.scenarios``: 2-6 users over 5-15
days, three event tables, a random config covering every property kind and function,
random KPIs and queries). The project is written to a temporary directory (YAML + a
DuckDB warehouse), refreshed by the engine, and then

- every property (config, base and hidden ``<id>__inner`` ones) must hold, for every
  (user, day) of the logical model, the value ``reference.compute_model`` computes
  (numbers within a relative 1e-9, everything else exactly, NULL only equal to NULL;
  the inline source of a count window without its own data_type may be held as text,
  and is then compared by its text form);
- every KPI query (date or cohort axis, grains, group-by, filters) must give the
  reference's points (the same groups, the same x values), per-group totals and overall
  total.

The fast variants keep the example counts small (about 20 s each unloaded); the ``slow``
variants draw 40 examples by default and 400 with ``ASEMIC_TEST_PROFILE=thorough``
(see budget.py); ``-m "not slow"`` leaves them out of a quick local run. A failing example is printed in full
(``Scenario.describe()``: data, config, KPIs and queries) to reproduce by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from budget import budget
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from random_project import INTEGER, Prop, Scenario, queries, reference_rows, scenarios, write_project
from reference import compute_kpi, compute_model, load_config

from asemic_core.project import Project
from asemic_core.query.filters import Filter
from asemic_core.query.kpi import KpiRequest

HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
FAST_PROPERTIES = settings(max_examples=20, deadline=None, suppress_health_check=HEALTH)
FAST_KPIS = settings(max_examples=15, deadline=None, suppress_health_check=HEALTH)
SLOW = settings(max_examples=budget(ci=20, thorough=400), deadline=None, suppress_health_check=HEALTH)


def same(expected: Any, actual: Any) -> bool:
    """Equal as the logical model means it: numbers within 1e-9, exact types otherwise."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, dt.datetime) or isinstance(actual, dt.datetime):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, dt.date) and isinstance(actual, dt.date):
        return expected == actual
    if isinstance(expected, str) and isinstance(actual, str):
        return expected == actual
    return False


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def same_counted(expected: Any, actual: Any) -> bool:
    """An inline source of a count window without its own type holds its values as text:
    the text of the value in its SQL type. A number is compared as a number (a NUMBER
    term makes ``COALESCE({ev}, 0) + {lifetime}`` read '3.0' where the reference, adding
    Python's 0 and 3, holds 3); other values by their text."""
    if isinstance(actual, str) and expected is not None and not isinstance(expected, str):
        if isinstance(expected, (int, float)) and not isinstance(expected, bool):
            try:
                return same(expected, float(actual))
            except ValueError:
                return False
        return _as_text(expected) == actual
    return same(expected, actual)


def _counted_inner(config) -> set[str]:
    """Hidden ids of inline sources of count windows without their own data_type: the
    engine may hold their values as text (docs/semantics.md, inline sources)."""
    out = set()
    for prop_id, prop in config.properties.items():
        d = prop.definition
        inner = getattr(d, "source_event_property", None) or getattr(d, "source_computed_property", None)
        if inner is not None and inner.data_type is None and getattr(d, "window_function", None) in (
                "count", "count_distinct"):
            out.add(f"{prop_id}__inner")
    return out


class Run:
    """One scenario on disk, refreshed by the engine, next to the reference model."""

    def __init__(self, scenario: Scenario, directory: Path) -> None:
        self.scenario = scenario
        root = write_project(scenario, directory / "project")
        self.config = load_config(root)
        self.model = compute_model(reference_rows(scenario), self.config)
        self.project = Project(root)

    def refresh(self):
        self.project.refresh(origin="test")
        self.source = self.project.source()
        return self

    def close(self) -> None:
        self.source.close()


def _run(scenario: Scenario):
    note(scenario.describe())
    directory = tempfile.TemporaryDirectory(prefix="asemic-prop-")
    try:
        run = Run(scenario, Path(directory.name))
        # The model must hold a user-day (users may all register after the end date).
        assume(run.model.rows)
        run.refresh()
    except BaseException:
        directory.cleanup()
        raise
    return run, directory


# ------------------------------------------------------------------------ properties


def property_mismatches(run: Run, limit: int = 25) -> list[str]:
    problems: list[str] = []
    counted = _counted_inner(run.config)
    for prop_id in run.model.props:
        frame = run.project.property_values(prop_id, source=run.source)
        got = {(row["entity_id"], row["date"]): row["value"] for row in frame.iter_rows(named=True)}
        if set(got) != set(run.model.rows):
            missing = sorted(set(run.model.rows) - set(got), key=str)[:5]
            extra = sorted(set(got) - set(run.model.rows), key=str)[:5]
            problems.append(f"{prop_id}: user-days differ (missing {missing}, extra {extra})")
            continue
        equal = same_counted if prop_id in counted else same
        for key in sorted(run.model.rows, key=lambda k: (k[0], k[1])):
            want = run.model.rows[key][prop_id]
            if not equal(want, got[key]):
                problems.append(f"{prop_id} {key[0]} {key[1]}: reference {want!r}, engine {got[key]!r}")
                if len(problems) >= limit:
                    return problems
    return problems


def check_properties(scenario: Scenario) -> None:
    run, directory = _run(scenario)
    try:
        problems = property_mismatches(run)
    finally:
        run.close()
        directory.cleanup()
    assert not problems, "\n".join(problems)


@FAST_PROPERTIES
@given(scenarios())
def test_every_property_value_matches_the_reference(scenario: Scenario) -> None:
    check_properties(scenario)


@pytest.mark.slow
@SLOW
@given(scenarios())
def test_every_property_value_matches_the_reference_many_examples(scenario: Scenario) -> None:
    check_properties(scenario)


# ------------------------------------------------------------------------------ KPIs


def _series(frame, axis: str, by: list[str]) -> dict[tuple, dict[Any, Any]]:
    out: dict[tuple, dict[Any, Any]] = {}
    for row in frame.iter_rows(named=True):
        out.setdefault(tuple(row[b] for b in by), {})[row[axis]] = row["value"]
    return out


def _reference(run: Run, query: dict[str, Any], by: tuple[str, ...], filters: list[tuple]):
    return compute_kpi(run.model, query["kpi"], x_axis=query["x_axis"], date_from=query["from"],
                       date_to=query["to"], grain=query["grain"], group_by=by,
                       filters=[(p, op, list(v) if isinstance(v, tuple) else v) for p, op, v in filters])


def kpi_mismatches(run: Run, query: dict[str, Any]) -> list[str]:
    label = (f"{query['kpi']} {query['x_axis']} {query['grain']} {query['from']}..{query['to']} "
             f"by={query['by']} filters={query['filters']}")
    want = _reference(run, query, tuple(query["by"]), query["filters"])
    request = KpiRequest(query["kpi"], query["from"], query["to"], query["x_axis"], query["grain"], list(query["by"]),
                         [Filter(p, op, v) for p, op, v in query["filters"]])
    got = run.project.kpi_query(request, source=run.source)
    axis = "cohort_day" if query["x_axis"] == "cohort_day" else "date"
    series = _series(got.points, axis, query["by"])
    totals = {tuple(row[b] for b in query["by"]): row["total"] for row in got.totals.iter_rows(named=True)}
    expected_series, expected_totals = want.series, want.totals
    problems: list[str] = []
    if set(series) != set(expected_series):
        problems.append(f"{label}: groups {sorted(series, key=str)} instead of {sorted(want.series, key=str)}")
    for group in sorted(set(series) & set(expected_series), key=str):
        expected, actual = expected_series[group], series[group]
        if list(expected) != list(actual):
            problems.append(f"{label} group {group}: points {list(actual)} instead of {list(expected)}")
            continue
        for x, value in expected.items():
            if not same(value, actual[x]):
                problems.append(f"{label} group {group} at {x}: reference {value!r}, engine {actual[x]!r}")
        if not same(expected_totals[group], totals.get(group)):
            problems.append(f"{label} total of {group}: reference {expected_totals[group]!r}, "
                            f"engine {totals.get(group)!r}")
    if not same(want.total, got.total):
        problems.append(f"{label} total: reference {want.total!r}, engine {got.total!r}")
    return problems


def check_kpis(scenario: Scenario) -> None:
    run, directory = _run(scenario)
    try:
        problems = [p for query in scenario.queries for p in kpi_mismatches(run, query)]
    finally:
        run.close()
        directory.cleanup()
    assert not problems, "\n".join(problems)


@FAST_KPIS
@given(scenarios(with_kpis=True))
def test_kpi_points_and_totals_match_the_reference(scenario: Scenario) -> None:
    check_kpis(scenario)


@pytest.mark.slow
@SLOW
@given(scenarios(with_kpis=True))
def test_kpi_points_and_totals_match_the_reference_many_examples(scenario: Scenario) -> None:
    check_kpis(scenario)


# ------------------------------------------------------------------ recency windows


@st.composite
def recency_scenarios(draw) -> Scenario:
    """Random data and properties plus an activity indicator and MAX windows over it ending
    on the day (recency windows: KPI readers derive them from the activity part alone),
    KPIs summing them, and random queries (groups, filters, ranges past the model)."""
    scenario = draw(scenarios())
    default = draw(st.sampled_from([0, -1]))
    scenario.props.append(Prop("act_ind", INTEGER, "event_property", {"data_type": INTEGER, "event_property": {
        "source_event": "entity_activity", "select": "1", "aggregate_function": draw(st.sampled_from(["none", "max"])),
        "default_value": default}}))
    reaches = sorted(draw(st.sets(st.integers(0, 8), min_size=1, max_size=3)))
    for k in reaches:
        scenario.props.append(Prop(f"recent_{k}", INTEGER, "sliding_window_property", {
            "data_type": INTEGER, "sliding_window_property": {
                "window_function": "max", "relative_days_from": -k, "relative_days_to": 0, "source_property": "act_ind"}}))
    sums = [f"SUM({{property.recent_{k}}})" for k in reaches]
    scenario.kpis = {
        "recent_sum": {"select": sums[0], "x_axis": {"date": {}}},
        "recent_mix": {"select": " * 100 + ".join(sums), "x_axis": {"date": {"total_function": "avg"}}},
        "recent_share": {"select": f"SAFE_DIVIDE({sums[-1]}, COUNT(*))", "x_axis": {"date": {}}},
    }
    scenario.queries = draw(queries(scenario))
    return scenario


@FAST_KPIS
@given(recency_scenarios())
def test_recency_window_kpis_match_the_reference(scenario: Scenario) -> None:
    check_kpis(scenario)
