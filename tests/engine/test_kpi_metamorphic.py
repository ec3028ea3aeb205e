"""Metamorphic tests of KPI queries on the demo project (``asemic-cli demo init``).

No expected values: relations that must hold between query results whatever the data.
The demo (400 users, 40 days) is generated and refreshed once for the module; one extra
group-by property with a NULL group (``payer_country``: the country of users who have paid,
NULL for the others) is added, because the demo's registration columns have no NULLs.

- additive KPIs (date-axis sums: dau, revenue, registrations, daily_payers, and on the
  cohort axis revenue and active_users): the groups of a group-by sum to the ungrouped
  value on every point, and the group totals to the total when the total function is sum;
- a filter and its complement: KPI(p = v) + KPI(p != v) + KPI(p is null) = KPI, and the
  same with ``in``/``not in``;
- DAU <= WAU <= MAU on every day; stickiness and retention (cohort axis, ``retention_d{}``
  templates, grouped too) within [0, 100];
- ARPDAU * DAU = revenue on every day with DAU > 0;
- week and month grains: each bucket is the axis' total function over the daily values
  of the bucket (sum or mean), keyed by its first day.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import init_demo
from asemic_core.project import Project
from asemic_core.query.filters import Filter
from asemic_core.query.kpi import KpiRequest

EXTRA_PROPERTIES = {"properties": {"payer_country": {
    "data_type": "STRING", "can_group_by": True,
    "description": "Country of users who have paid; NULL for the others",
    "computed_property": {"select": "IF({is_payer_lifetime} = 1, {country}, NULL)"},
}}}
ADDITIVE = ["dau", "revenue", "registrations", "daily_payers"]
GROUPS = ["platform", "country", "payer_country"]


class Demo:
    def __init__(self, root: Path) -> None:
        init_demo(root, DemoSpec(users=400, days=40))
        (root / "userentity" / "properties" / "metamorphic.yml").write_text(yaml.safe_dump(EXTRA_PROPERTIES))
        self.project = Project(root)
        self.project.refresh(origin="test")
        self.source = self.project.source()
        status = self.project.status()
        self.first = dt.date.fromisoformat(status.first_day)
        self.last = dt.date.fromisoformat(status.watermark)
        self._cache: dict[Any, Any] = {}

    def query(self, kpi: str, *, axis: str = "date", grain: str = "day", by: tuple[str, ...] = (),
              filters: tuple[Filter, ...] = (), first: dt.date | None = None, last: dt.date | None = None):
        key = (kpi, axis, grain, by, filters, first, last)
        if key not in self._cache:
            request = KpiRequest(kpi, first or self.first, last or self.last, axis, grain, list(by), list(filters))
            self._cache[key] = self.project.kpi_query(request, source=self.source)
        return self._cache[key]

    def series(self, kpi: str, **kwargs: Any) -> dict[Any, Any]:
        result = self.query(kpi, **kwargs)
        axis = kwargs.get("axis", "date")
        return {row[axis]: row["value"] for row in result.points.iter_rows(named=True)}

    def grouped(self, kpi: str, by: str, **kwargs: Any) -> dict[Any, dict[Any, Any]]:
        result = self.query(kpi, by=(by,), **kwargs)
        axis = kwargs.get("axis", "date")
        out: dict[Any, dict[Any, Any]] = {}
        for row in result.points.iter_rows(named=True):
            out.setdefault(row[by], {})[row[axis]] = row["value"]
        return out

    def values_of(self, prop: str) -> list[Any]:
        return self.project.property_values(prop, source=self.source)["value"].to_list()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    demo = Demo(tmp_path_factory.mktemp("metamorphic") / "demo")
    yield demo
    demo.source.close()


def close(a: float | None, b: float | None) -> bool:
    return math.isclose(a or 0.0, b or 0.0, rel_tol=1e-9, abs_tol=1e-9)


def add(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def test_the_demo_model_is_there(demo: Demo) -> None:
    assert (demo.last - demo.first).days + 1 == 40
    assert None in demo.values_of("payer_country")  # the extra group-by has a NULL group
    assert len({v for v in demo.values_of("payer_country") if v is not None}) >= 2
    dau = demo.series("dau")
    assert list(dau) == [demo.first + dt.timedelta(days=i) for i in range(40)]
    assert all(v is not None and v > 0 for v in dau.values())


# ---------------------------------------------------------------------- additivity


@pytest.mark.parametrize("by", GROUPS)
@pytest.mark.parametrize("kpi", ADDITIVE)
def test_groups_sum_to_the_ungrouped_value_every_day(demo: Demo, kpi: str, by: str) -> None:
    whole = demo.series(kpi)
    groups = demo.grouped(kpi, by)
    assert len(groups) >= 2
    problems = []
    for day, value in whole.items():
        parts = [series[day] for series in groups.values()]
        if (value is None) != all(p is None for p in parts) or not close(add(*parts), value):
            problems.append(f"{day}: groups {parts} sum to {add(*parts)}, ungrouped {value}")
    assert not problems, "\n".join(problems)
    result = demo.query(kpi, by=(by,))
    if result.kpi.x_axes["date"] == "sum":
        assert close(add(*result.totals["total"].to_list()), result.total)


@pytest.mark.parametrize("by", GROUPS)
@pytest.mark.parametrize("kpi", ["revenue", "active_users"])
def test_groups_sum_to_the_ungrouped_value_on_the_cohort_axis(demo: Demo, kpi: str, by: str) -> None:
    whole = demo.series(kpi, axis="cohort_day")
    groups = demo.grouped(kpi, by, axis="cohort_day")
    assert list(whole) == sorted(demo.project.resolved().entity.cohorted_daily_kpis_days)
    for point, value in whole.items():
        parts = [series[point] for series in groups.values()]
        assert close(add(*parts), value), (point, parts, value)


def _split(demo: Demo, by: str) -> list[tuple[Filter, ...]]:
    values = sorted(v for v in set(demo.values_of(by)) if v is not None)
    assert len(values) >= 2
    common = max(set(values), key=demo.values_of(by).count)
    return [
        (Filter(by, "=", common), Filter(by, "!=", common), Filter(by, "is null")),
        (Filter(by, "in", tuple(values[:2])), Filter(by, "not in", tuple(values[:2])), Filter(by, "is null")),
    ]


@pytest.mark.parametrize("by", GROUPS)
@pytest.mark.parametrize("kpi", ADDITIVE)
def test_a_filter_and_its_complement_add_up(demo: Demo, kpi: str, by: str) -> None:
    whole = demo.series(kpi)
    problems = []
    for parts in _split(demo, by):
        pieces = [demo.series(kpi, filters=(f,)) for f in parts]
        for day, value in whole.items():
            values = [piece[day] for piece in pieces]
            if not close(add(*values), value):
                problems.append(f"{day} {[f.describe() for f in parts]}: {values} sum to {add(*values)}, not {value}")
    assert not problems, "\n".join(problems[:20])


def test_filters_decompose_on_the_cohort_axis(demo: Demo) -> None:
    whole = demo.series("revenue", axis="cohort_day")
    for parts in _split(demo, "payer_country"):
        pieces = [demo.series("revenue", axis="cohort_day", filters=(f,)) for f in parts]
        for point, value in whole.items():
            assert close(add(*[piece[point] for piece in pieces]), value), (point, parts)


def test_a_filtered_series_equals_its_group(demo: Demo) -> None:
    """Filtering on a group's value gives that group's series (NULL group: ``is null``)."""
    groups = demo.grouped("revenue", "payer_country")
    assert None in groups
    for value, series in groups.items():
        flt = Filter("payer_country", "is null") if value is None else Filter("payer_country", "=", value)
        filtered = demo.series("revenue", filters=(flt,))
        assert all(close(series[day], filtered[day]) and (series[day] is None) == (filtered[day] is None)
                   for day in series), value


# ----------------------------------------------------------------- inequalities, ranges


def test_dau_wau_mau_are_ordered_every_day(demo: Demo) -> None:
    dau, wau, mau = demo.series("dau"), demo.series("wau"), demo.series("mau")
    problems = [f"{day}: dau {dau[day]}, wau {wau[day]}, mau {mau[day]}" for day in dau
                if not (dau[day] or 0) <= (wau[day] or 0) <= (mau[day] or 0)]
    assert not problems, "\n".join(problems)
    assert any((dau[day] or 0) < (wau[day] or 0) for day in dau)  # not trivially equal


@pytest.mark.parametrize("by", [(), ("platform",), ("payer_country",)])
def test_stickiness_is_a_percentage(demo: Demo, by: tuple[str, ...]) -> None:
    values = demo.query("stickiness", by=by).points["value"].to_list()
    assert any(v is not None for v in values)
    assert all(v is None or 0 <= v <= 100 for v in values)


@pytest.mark.parametrize("by", [(), ("country",), ("payer_country",)])
def test_retention_is_a_percentage(demo: Demo, by: tuple[str, ...]) -> None:
    kpis = demo.project.resolved().kpis
    templated = sorted(k for k in kpis if k.startswith("retention_d"))
    assert len(templated) == len(demo.project.resolved().entity.cohorted_daily_kpis_days)
    checked = 0
    for kpi in templated:
        for value in demo.query(kpi, by=by).points["value"].to_list():
            assert value is None or 0 <= value <= 100, (kpi, value)
            checked += value is not None
    cohort = demo.query("retention", axis="cohort_day", by=by).points["value"].to_list()
    assert all(v is None or 0 <= v <= 100 for v in cohort)
    assert checked and any(v is not None for v in cohort)
    # Day 0: every user is active on the registration day in the demo.
    assert demo.series("retention", axis="cohort_day")[0] == pytest.approx(100)


def test_retention_template_matches_the_cohort_axis_population(demo: Demo) -> None:
    """retention_dN on the date axis, averaged over registration days, weighted by cohort
    size, equals the cohort-axis retention at N for the same users."""
    for n in (1, 7):
        first, last = demo.first, demo.last - dt.timedelta(days=n)
        cohort = demo.series("retention", axis="cohort_day", first=first, last=last)[n]
        daily = demo.series(f"retention_d{n}", first=first + dt.timedelta(days=n), last=demo.last)
        sizes = demo.series("registrations", first=first, last=last)
        weighted = sum((daily[day + dt.timedelta(days=n)] or 0) * (size or 0) for day, size in sizes.items())
        assert close(weighted / sum(v or 0 for v in sizes.values()), cohort)


@pytest.mark.parametrize("by", [(), ("platform",)])
def test_arpdau_times_dau_is_revenue(demo: Demo, by: tuple[str, ...]) -> None:
    def keyed(kpi: str) -> dict[tuple, Any]:
        points = demo.query(kpi, by=by).points
        return {tuple(row[c] for c in ("date", *by)): row["value"] for row in points.iter_rows(named=True)}

    arpdau, dau, revenue = keyed("arpdau"), keyed("dau"), keyed("revenue")
    checked = 0
    for key, users in dau.items():
        if users:
            assert math.isclose(arpdau[key] * users, revenue[key], rel_tol=1e-9, abs_tol=1e-9), key
            checked += 1
    assert checked >= 40


# -------------------------------------------------------------------------- grains


def _bucket(day: dt.date, grain: str) -> dt.date:
    return day - dt.timedelta(days=day.weekday()) if grain == "week" else day.replace(day=1)


@pytest.mark.parametrize("grain", ["week", "month"])
@pytest.mark.parametrize("kpi", ["revenue", "registrations", "mau_lost", "dau", "wau", "daily_payers"])
def test_a_grain_applies_the_total_function_to_the_daily_values(demo: Demo, kpi: str, grain: str) -> None:
    daily = demo.series(kpi)
    buckets: dict[dt.date, list[Any]] = {}
    for day, value in daily.items():
        buckets.setdefault(_bucket(day, grain), []).append(value)
    function = demo.query(kpi).kpi.x_axes["date"]
    assert function in ("sum", "avg")
    coarse = demo.series(kpi, grain=grain)
    assert list(coarse) == list(buckets)
    for bucket, values in buckets.items():
        present = [v for v in values if v is not None]
        want = None if not present else (sum(present) if function == "sum" else sum(present) / len(present))
        assert (want is None) == (coarse[bucket] is None) and close(coarse[bucket], want), (bucket, values)
    if function == "sum":
        assert close(demo.query(kpi, grain=grain).total, demo.query(kpi).total)


@pytest.mark.parametrize("by", ["platform", "payer_country"])
def test_a_grouped_week_grain_sums_the_grouped_days(demo: Demo, by: str) -> None:
    daily = demo.grouped("revenue", by)
    weekly = demo.grouped("revenue", by, grain="week")
    assert set(daily) == set(weekly)
    for group, series in daily.items():
        for bucket, value in weekly[group].items():
            days = [v for day, v in series.items() if _bucket(day, "week") == bucket]
            assert close(add(*days), value), (group, bucket)
