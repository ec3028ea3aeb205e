"""KPI queries do only query work: a KPI's formula and filters are parsed and resolved
once per config, and a changed config is compiled again."""

from __future__ import annotations

import datetime as dt

import pytest

from asemic_core.config import writer
from asemic_core.query import kpi as kpi_module
from asemic_core.query.kpi import KpiRequest


@pytest.fixture
def parse_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    original = kpi_module.parse_expression

    def counting(text, *args, **kwargs):
        calls.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(kpi_module, "parse_expression", counting)
    kpi_module._COMPILED.clear()
    return calls


def test_a_kpi_formula_is_parsed_once_per_config(demo, parse_calls) -> None:
    source = demo.source()
    try:
        first = demo.kpi_query(KpiRequest("arpdau", dt.date(2026, 1, 3), dt.date(2026, 1, 20)), source=source)
        assert parse_calls, "the formula was not parsed at all"
        parsed = len(parse_calls)
        again = demo.kpi_query(KpiRequest("arpdau", dt.date(2026, 1, 3), dt.date(2026, 1, 20), by=["platform"]),
                               source=source)
        other_source = demo.source()  # a new reader of the same config shares the compiled KPI
        third = demo.kpi_query(KpiRequest("arpdau", dt.date(2026, 1, 3), dt.date(2026, 1, 20)), source=other_source)
        other_source.close()
    finally:
        source.close()
    assert len(parse_calls) == parsed, "the formula was parsed again for the same config"
    assert first.points.equals(third.points)
    assert again.total == pytest.approx(first.total)


def test_a_changed_kpi_is_compiled_again(demo, parse_calls) -> None:
    request = KpiRequest("arpdau", dt.date(2026, 1, 3), dt.date(2026, 1, 20))
    before = demo.kpi_query(request)
    body = demo.files().kpis["arpdau"].model.model_dump(by_alias=True, exclude_none=True)
    body["select"] = "2 * (" + body["select"] + ")"
    writer.save_kpi(demo.root, "arpdau", body)
    after = demo.kpi_query(request)
    pairs = [(b, a) for b, a in zip(before.points["value"], after.points["value"]) if b is not None]
    assert pairs and all(a == pytest.approx(2 * b) for b, a in pairs)
