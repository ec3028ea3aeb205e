"""Date-axis KPIs over every registered user, or over the days within active_days of the
last activity, are summed over runs of equal days (query/kpi_delta.py): the same points
as the logical model's rows give, computed here from the dense model with Polars."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from asemic_core.engine import source_day_range, warehouse_executor
from asemic_core.project import Project
from asemic_core.query import kpi as kpi_module
from asemic_core.query.filters import parse_filter
from asemic_core.query.kpi import KpiRequest
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
from asemic_core.sql.render import render
from asemic_core.storage.schema import daily_columns

EXTRA_KPIS = """kpis:
  payers_to_date:
    select: SUM({property.is_payer_lifetime})
    x_axis:
      date:
        total_function: avg
    label: Payers to date
  users_to_date:
    select: COUNT(*)
    x_axis:
      date: {}
  active_share:
    select: SAFE_DIVIDE(SUM({property.dau_active}) * 100, COUNT({property.mau_active}))
    x_axis:
      date: {}
"""


@pytest.fixture(scope="module")
def model(demo_template, tmp_path_factory):
    import shutil

    root = tmp_path_factory.mktemp("delta") / "project"
    shutil.copytree(demo_template, root)
    (root / "userentity" / "kpis" / "delta_test.yml").write_text(EXTRA_KPIS)
    project = Project(root)
    project.refresh(origin="test")
    resolved = project.resolved()
    executor = warehouse_executor(root / "warehouse.duckdb", resolved)
    first, last = source_day_range(executor, resolved)
    status = project.status()
    dense = executor.frame(render(ModelQueryBuilder(resolved).build(
        ModelRequest(daily_columns(resolved), first, dt.date.fromisoformat(status.watermark), dense=True))))
    executor.close()
    source = project.source()
    yield project, source, dense, first, dt.date.fromisoformat(status.watermark)
    source.close()


def _expected(dense: pl.DataFrame, kpi: str, day_from, day_to, by=(), where=None) -> pl.DataFrame:
    rows = dense.filter(pl.col("date").is_between(day_from, day_to))
    if where is not None:
        rows = rows.filter(where)
    recent = pl.col("days_since_last_active") <= 30
    active = pl.col("days_since_last_active") == 0
    values = {
        "mau": pl.col("mau_active").filter(recent).sum(),
        "wau": pl.col("wau_active").filter(recent).sum(),
        "payers_to_date": pl.col("is_payer_lifetime").sum(),
        "users_to_date": pl.len(),
        "active_share": pl.col("dau_active").filter(active).sum() * 100 / pl.col("mau_active").filter(recent).count(),
    }
    return rows.group_by(["date", *by]).agg(values[kpi].alias("value")).sort(["date", *by])


@pytest.mark.parametrize("kpi", ["mau", "wau", "payers_to_date", "users_to_date", "active_share"])
@pytest.mark.parametrize("offsets", [(0, 0), (9, 2), (25, 0)])
def test_summed_runs_give_the_dense_models_points(model, kpi, offsets) -> None:
    project, source, dense, first, last = model
    day_from, day_to = first + dt.timedelta(days=offsets[0]), last - dt.timedelta(days=offsets[1])
    result = project.kpi_query(KpiRequest(kpi, day_from, day_to), source=source)
    assert '__runs AS' in result.sql, "the KPI was not summed over runs"
    want = _expected(dense, kpi, day_from, day_to)
    got = result.points.join(want, on="date", how="left", suffix="_want")
    assert got.height == (day_to - day_from).days + 1
    for value, expected in zip(got["value"].to_list(), got["value_want"].to_list()):
        assert (value is None and expected is None) or value == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kpi", ["mau", "payers_to_date"])
def test_summed_runs_by_group_with_a_filter(model, kpi) -> None:
    project, source, dense, first, last = model
    resolved = project.resolved()
    request = KpiRequest(kpi, first + dt.timedelta(days=5), last, by=["platform"],
                         filters=[parse_filter("country != 'US'", resolved)])
    result = project.kpi_query(request, source=source)
    assert '__runs AS' in result.sql
    want = _expected(dense, kpi, request.date_from, request.date_to, by=["platform"],
                     where=pl.col("country") != "US")
    got = result.points.filter(pl.col("value").is_not_null()).sort(["date", "platform"])
    assert got.select("date", "platform").to_dicts() == want.select("date", "platform").to_dicts()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)


def test_summed_runs_roll_up_to_weeks_like_the_expanded_days(model, monkeypatch) -> None:
    project, source, _dense, first, last = model
    request = KpiRequest("mau", first, last, grain="week")
    summed = project.kpi_query(request, source=source)
    monkeypatch.setattr(kpi_module, "applicable", lambda *args, **kwargs: False)
    expanded = project.kpi_query(request, source=source)
    assert '__runs AS' in summed.sql and '__runs AS' not in expanded.sql
    assert summed.points.to_dicts() == expanded.points.to_dicts()


def test_kpis_reading_a_day_counter_are_expanded(model) -> None:
    """mau_lost reads days_since_last_active, which changes on every gap day."""
    project, source, _dense, first, last = model
    result = project.kpi_query(KpiRequest("mau_lost", first, last), source=source)
    assert '__runs AS' not in result.sql
