"""The reference implementation against the hand-computed golden datasets.

Each ``golden/<name>/expected.yml`` was computed by hand from the dataset's CSVs (the
derivations are comments in the file), so a pass here verifies the reference, which the
engine tests then use as their oracle on larger, random data.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import duckdb
import pytest
from golden_loader import build_warehouse, dataset_dirs, load_expected, materialize_project, read_event_rows
from reference import compute_kpi, compute_model, expand_kpis, load_config

DATASETS = dataset_dirs()
IDS = [d.name for d in DATASETS]
_MODELS: dict[Path, Any] = {}


def model_of(dataset: Path):
    if dataset not in _MODELS:
        _MODELS[dataset] = compute_model(read_event_rows(dataset), load_config(dataset))
    return _MODELS[dataset]


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


def test_there_are_golden_datasets() -> None:
    assert len(DATASETS) >= 2


@pytest.mark.parametrize("dataset", DATASETS, ids=IDS)
def test_users_and_end_date(dataset: Path) -> None:
    model = model_of(dataset)
    expected = load_expected(dataset)
    assert model.end_date == expected["end_date"]
    assert {user: reg["date"] for user, reg in model.registrations.items() if user in model.days} == expected["users"]
    for user, registered in expected["users"].items():
        span = (expected["end_date"] - registered).days + 1
        assert model.days[user] == [registered + dt.timedelta(days=i) for i in range(span)]


@pytest.mark.parametrize("dataset", DATASETS, ids=IDS)
def test_property_values(dataset: Path) -> None:
    model = model_of(dataset)
    expected = load_expected(dataset)
    problems = []
    for prop, by_user in expected["properties"].items():
        for user, values in by_user.items():
            days = model.days[user]
            if len(values) != len(days):
                problems.append(f"{prop} {user}: {len(values)} expected values for {len(days)} days")
                continue
            actual = [model.value(prop, user, day) for day in days]
            for day, want, got in zip(days, values, actual):
                if not same(want, got):
                    problems.append(f"{prop} {user} {day}: expected {want!r}, got {got!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dataset", DATASETS, ids=IDS)
def test_every_property_is_checked_for_every_user(dataset: Path) -> None:
    config = load_config(dataset)
    expected = load_expected(dataset)
    missing = [p for p in config.properties if set(expected["properties"].get(p, {})) != set(expected["users"])]
    assert not missing, f"properties without expected values for every user: {missing}"


def _kpi_cases() -> list[Any]:
    cases = []
    for dataset in DATASETS:
        for i, case in enumerate(load_expected(dataset).get("kpis", [])):
            label = f"{dataset.name}-{i}-{case['kpi']}-{case.get('x_axis', 'date')}"
            cases.append(pytest.param(dataset, case, id=label))
    return cases


@pytest.mark.parametrize(("dataset", "case"), _kpi_cases())
def test_kpi(dataset: Path, case: dict[str, Any]) -> None:
    model = model_of(dataset)
    group_by = tuple(case.get("group_by", ()))
    result = compute_kpi(
        model, case["kpi"], x_axis=case.get("x_axis", "date"), date_from=case["from"], date_to=case["to"],
        grain=case.get("grain", "day"), group_by=group_by,
        filters=[tuple(f) for f in case.get("filters", ())],
    )
    problems = []

    def check(label: str, want: dict, got: dict) -> None:
        if list(want) != list(got):
            problems.append(f"{label}: points {list(got)} instead of {list(want)}")
            return
        for x, value in want.items():
            if not same(value, got[x]):
                problems.append(f"{label} {x}: expected {value!r}, got {got[x]!r}")

    if group_by:
        assert len(group_by) == 1, "expected.yml lists groups of one group-by property"
        got_groups = {g[0]: s for g, s in result.series.items()}
        if set(got_groups) != set(case["groups"]):
            problems.append(f"groups {sorted(got_groups, key=str)} instead of {sorted(case['groups'], key=str)}")
        for group, want in case["groups"].items():
            if group in got_groups:
                check(f"group {group!r}", want, got_groups[group])
                if not same(case["totals"][group], result.totals[(group,)]):
                    problems.append(f"total of {group!r}: expected {case['totals'][group]!r}, got {result.totals[(group,)]!r}")
    else:
        check("series", case["points"], result.series[()])
    if not same(case["total"], result.total):
        problems.append(f"total: expected {case['total']!r}, got {result.total!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dataset", DATASETS, ids=IDS)
def test_every_kpi_is_checked(dataset: Path) -> None:
    checked = {case["kpi"] for case in load_expected(dataset).get("kpis", [])}
    assert set(expand_kpis(load_config(dataset))) <= checked


@pytest.mark.parametrize("dataset", DATASETS, ids=IDS)
def test_warehouse_holds_the_csv_rows_with_the_declared_types(dataset: Path, tmp_path: Path) -> None:
    project = materialize_project(dataset, tmp_path / "project")
    rows = read_event_rows(dataset)
    config = load_config(project)
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        for event_id, table in config.events.items():
            schema, name = table.table_name.split(".")
            types = dict(con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, name]).fetchall())
            assert list(types) == list(table.columns)
            for column, declared in table.columns.items():
                assert types[column] == {"NUMBER": "DOUBLE", "INTEGER": "BIGINT", "STRING": "VARCHAR",
                                         "DATE": "DATE", "DATETIME": "TIMESTAMP",
                                         "BOOLEAN": "BOOLEAN"}[declared.data_type.value]
            stored = con.execute(f"SELECT * FROM {table.table_name}").fetchall()
            assert stored == [tuple(row[c] for c in table.columns) for row in rows[event_id]]


def test_build_warehouse_replaces_an_existing_file(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    build_warehouse(DATASETS[0], db)
    build_warehouse(DATASETS[0], db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == len(load_config(DATASETS[0]).events)
