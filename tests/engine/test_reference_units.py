"""Unit tests of the reference's expression evaluator and of what the reference refuses."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from golden_loader import GOLDEN_DIR, read_event_rows
from reference import compute_kpi, compute_model, load_config
from reference_expr import Env, evaluate, parse, placeholders

from asemic_core.config.models import Kpi, Property

ROW = {"a": 3, "b": 0, "n": None, "s": "x", "d": dt.date(2024, 1, 5), "e": dt.date(2024, 1, 1)}


def ev(text: str):
    def lookup(namespace, name):
        return ROW[name]

    return evaluate(parse(text), Env(lookup))


@pytest.mark.parametrize(("text", "expected"), [
    ("{a} + 1", 4),
    ("{a} / 2", 1.5),  # integer / yields a float
    ("-{a} * (2 - 3)", 3),
    ("{a} + {n}", None),
    ("{n} = {n}", None),
    ("{n} IS NULL", True),
    ("{a} IS NOT NULL", True),
    ("{n} > 1 OR {a} > 1", True),
    ("{n} > 1 AND {a} > 1", None),
    ("{n} > 1 AND {a} < 1", False),
    ("NOT {a} = 3", False),
    ("NOT ({n} = 1)", None),
    ("{a} IN (1, 3)", True),
    ("{a} NOT IN (1, NULL)", None),
    ("{s} <> 'y'", True),
    ("'it''s'", "it's"),
    ("IF({a} > 1, 'big', 'small')", "big"),
    ("IF({n} > 1, 'big', 'small')", "small"),
    ("COALESCE({n}, {b}, 7)", 0),
    ("SAFE_DIVIDE({a}, {b})", None),
    ("SAFE_DIVIDE({a}, 2)", 1.5),
    ("DATE_DIFF({d}, {e}, DAY)", 4),
    ("{d} >= '2024-01-05'", True),
    ("CASE WHEN {a} > 5 THEN 'x' WHEN {a} > 2 THEN 'y' END", "y"),
    ("CASE {a} WHEN 1 THEN 'one' ELSE 'other' END", "other"),
    ("CASE WHEN {n} THEN 1 END", None),
    ("TRUE AND NOT FALSE", True),
])
def test_evaluator(text: str, expected) -> None:
    got = ev(text)
    assert got == expected and type(got) is type(expected)


def test_aggregates_skip_nulls() -> None:
    rows = [{"x": 1}, {"x": None}, {"x": 3}, {"x": 3}]

    def aggregate(node):
        from reference_expr import aggregate_values

        _, name, arg, distinct = node
        values = [] if arg is None else [evaluate(arg, Env(lambda ns, n, r=r: r[n])) for r in rows]
        return aggregate_values(name, values, distinct, len(rows), arg is None)

    env = Env(lambda ns, n: pytest.fail("no column outside aggregates"), aggregate)
    assert evaluate(parse("COUNT(*)"), env) == 4
    assert evaluate(parse("COUNT({x})"), env) == 3
    assert evaluate(parse("COUNTD({x})"), env) == 2
    assert evaluate(parse("COUNT(DISTINCT {x})"), env) == 2
    assert evaluate(parse("SUM({x}) / COUNT(*)"), env) == 7 / 4
    assert evaluate(parse("AVG({x})"), env) == 7 / 3
    assert evaluate(parse("MIN({x}) + MAX({x})"), env) == 4


def test_placeholders_in_every_branch() -> None:
    tree = parse("CASE WHEN {a} = 1 THEN {b} WHEN {c} THEN {d} ELSE {property.e} END + {kpi.k}")
    assert placeholders(tree) == [(None, "a"), (None, "b"), (None, "c"), (None, "d"), ("property", "e"), ("kpi", "k")]


@pytest.mark.parametrize("text", [
    "UPPER({s})", "{a}; DROP TABLE x", "(SELECT 1)", "{s} LIKE 'x%'", "{a} BETWEEN 1 AND 2",
    "DATE_DIFF({d}, {e}, MONTH)", "{}",
])
def test_unsupported_expressions_are_refused(text: str) -> None:
    with pytest.raises(NotImplementedError):
        ev(text)


def test_string_arithmetic_is_refused() -> None:
    with pytest.raises(NotImplementedError):
        ev("{s} + 1")


# ------------------------------------------------------------------ reference refusals

GAME = GOLDEN_DIR / "game"


def _game():
    return load_config(GAME), read_event_rows(GAME)


def test_dependency_cycle_is_an_error() -> None:
    config, rows = _game()
    config = copy.deepcopy(config)
    config.properties["loop_a"] = Property.model_validate(
        {"data_type": "NUMBER", "computed_property": {"select": "{loop_b} + 1"}})
    config.properties["loop_b"] = Property.model_validate(
        {"data_type": "NUMBER", "computed_property": {"select": "{loop_a} + 1"}})
    with pytest.raises(ValueError, match="cycle"):
        compute_model(rows, config)


@pytest.mark.parametrize(("select", "message"), [
    ("{property.revenue_on_day}", "outside an aggregation"),
    ("{kpi.loop}", "cycle or unknown"),
])
def test_bad_kpis_are_errors(select: str, message: str) -> None:
    config, rows = _game()
    config = copy.deepcopy(config)
    config.kpis["loop"] = Kpi.model_validate({"select": select, "x_axis": {"date": {}}})
    model = compute_model(rows, config)
    with pytest.raises(ValueError, match=message):
        compute_kpi(model, "loop", date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 1, 2))


def test_a_referenced_kpi_needs_the_axis() -> None:
    config, rows = _game()
    config = copy.deepcopy(config)
    config.kpis["per_active"] = Kpi.model_validate(
        {"select": "SAFE_DIVIDE({kpi.revenue}, {kpi.revenue_per_active})", "x_axis": {"cohort_day": {}}})
    model = compute_model(rows, config)
    with pytest.raises(ValueError, match="does not define the cohort_day axis"):
        compute_kpi(model, "per_active", x_axis="cohort_day", date_from=dt.date(2024, 1, 1),
                    date_to=dt.date(2024, 1, 10))


def test_group_by_needs_can_group_by() -> None:
    config, rows = _game()
    model = compute_model(rows, config)
    with pytest.raises(ValueError, match="can_group_by"):
        compute_kpi(model, "dau", date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 1, 2),
                    group_by=["revenue_on_day"])


def test_start_date_drops_earlier_days() -> None:
    config, rows = _game()
    config = copy.deepcopy(config)
    config.entity.model_settings.start_date = dt.date(2024, 1, 5)
    model = compute_model(rows, config)
    assert model.days["u1"][0] == dt.date(2024, 1, 5)
    # lifetime values start at the first materialized day
    assert model.value("revenue_lifetime", "u1", dt.date(2024, 1, 10)) == 0
