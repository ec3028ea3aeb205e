"""The engine against the hand-computed golden datasets: refresh, then every property
value and every KPI case of ``golden/<name>/expected.yml`` must match exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from golden_loader import dataset_dirs, load_expected, materialize_project
from test_reference_golden import same

from asemic_core.project import Project
from asemic_core.query.filters import Filter
from asemic_core.query.kpi import KpiRequest

DATASETS = dataset_dirs()
IDS = [d.name for d in DATASETS]
_PROJECTS: dict[str, Project] = {}


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> dict[str, Project]:
    for dataset in DATASETS:
        if dataset.name not in _PROJECTS:
            root = materialize_project(dataset, tmp_path_factory.mktemp(dataset.name) / "project")
            project = Project(root)
            project.refresh(origin="test")
            _PROJECTS[dataset.name] = project
    return _PROJECTS


@pytest.mark.parametrize("dataset", DATASETS, ids=IDS)
def test_refresh_materializes_every_user_day(dataset: Path, refreshed) -> None:
    project = refreshed[dataset.name]
    expected = load_expected(dataset)
    frame = project.property_values("cohort_day")
    days = {}
    for row in frame.iter_rows(named=True):
        days.setdefault(row["entity_id"], []).append(row["date"])
    assert set(days) == set(expected["users"])
    for user, registered in expected["users"].items():
        span = (expected["end_date"] - registered).days + 1
        assert days[user] == [registered + dt.timedelta(days=i) for i in range(span)]
    assert project.status().watermark == expected["end_date"].isoformat()


@pytest.mark.parametrize("dataset", DATASETS, ids=IDS)
def test_property_values_match_the_hand_computed_ones(dataset: Path, refreshed) -> None:
    project = refreshed[dataset.name]
    expected = load_expected(dataset)
    source = project.source()
    problems = []
    for prop, by_user in expected["properties"].items():
        frame = project.property_values(prop, source=source)
        actual: dict[str, list] = {}
        for row in frame.iter_rows(named=True):
            actual.setdefault(row["entity_id"], []).append(row["value"])
        for user, values in by_user.items():
            got = actual.get(user, [])
            if len(got) != len(values):
                problems.append(f"{prop} {user}: {len(got)} values instead of {len(values)}")
                continue
            for index, (want, have) in enumerate(zip(values, got)):
                if not same(want, have):
                    problems.append(f"{prop} {user} day {index}: expected {want!r}, got {have!r}")
    assert not problems, "\n".join(problems)


def _kpi_cases() -> list[Any]:
    cases = []
    for dataset in DATASETS:
        for i, case in enumerate(load_expected(dataset).get("kpis", [])):
            cases.append(pytest.param(dataset, case, id=f"{dataset.name}-{i}-{case['kpi']}-{case.get('x_axis', 'date')}"))
    return cases


def _points(frame, axis: str, group: tuple[str, Any] | None = None) -> dict:
    out = {}
    for row in frame.iter_rows(named=True):
        if group is not None and not (row[group[0]] == group[1] or (row[group[0]] is None and group[1] is None)):
            continue
        out[row[axis]] = row["value"]
    return out


@pytest.mark.parametrize(("dataset", "case"), _kpi_cases())
def test_kpi_matches_the_hand_computed_values(dataset: Path, case: dict[str, Any], refreshed) -> None:
    project = refreshed[dataset.name]
    axis = case.get("x_axis", "date")
    request = KpiRequest(
        case["kpi"], case["from"], case["to"], axis, case.get("grain", "day"), list(case.get("group_by", ())),
        [Filter(p, op, tuple(v) if isinstance(v, list) else v) for p, op, v in
         (tuple(f) + (None,) * (3 - len(f)) for f in case.get("filters", ()))],
    )
    result = project.kpi_query(request)
    problems = []

    def check(label: str, want: dict, got: dict) -> None:
        if list(want) != list(got):
            problems.append(f"{label}: points {list(got)} instead of {list(want)}")
            return
        for x, value in want.items():
            if not same(value, got[x]):
                problems.append(f"{label} {x}: expected {value!r}, got {got[x]!r}")

    if request.by:
        column = request.by[0]
        groups = set(result.points[column].to_list())
        if groups != set(case["groups"]):
            problems.append(f"groups {sorted(groups, key=str)} instead of {sorted(case['groups'], key=str)}")
        totals = {row[column]: row["total"] for row in result.totals.iter_rows(named=True)}
        for group, want in case["groups"].items():
            check(f"group {group!r}", want, _points(result.points, axis, (column, group)))
            if not same(case["totals"][group], totals.get(group)):
                problems.append(f"total of {group!r}: expected {case['totals'][group]!r}, got {totals.get(group)!r}")
    else:
        check("series", case["points"], _points(result.points, axis))
    if not same(case["total"], result.total):
        problems.append(f"total: expected {case['total']!r}, got {result.total!r}")
    assert not problems, "\n".join(problems)
