"""Date-axis KPIs over every registered user, or over the days within active_days of the
last activity, are summed over runs of equal days (query/kpi_delta.py): the same points
as the logical model's rows give, computed here from the dense model with Polars."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from asemic_core.demo.project import DemoSpec, init_demo
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
  weekly_and_monthly:
    select: SUM({property.wau_active}) * 1000000 + SUM({property.mau_active})
    x_axis:
      date: {}
  active_days_7d:
    select: SUM({property.days_active_last_7_days})
    x_axis:
      date: {}
  weekly_on_day_14:
    select: SUM({property.wau_active})
    where: "{property.cohort_day} = 14"
    x_axis:
      date: {}
  weekly_by_cohort_day:
    select: SUM({property.wau_active})
    x_axis:
      cohort_day: {}
  churned_users:
    select: SUM({property.churn_flag})
    x_axis:
      date: {}
  lost_share:
    select: SAFE_DIVIDE(SUM({property.mau_lost}) * 100, COUNT(*))
    x_axis:
      date: {}
  odd_steps:
    select: SUM({property.odd_step})
    x_axis:
      date: {}
  dated_rows:
    select: COUNT({property.date})
    x_axis:
      date: {}
  lost_users_counted:
    select: COUNT({property.entity_id})
    where: "{property.mau_lost} = 1"
    x_axis:
      date: {}
  lifetime_on_day_7:
    select: SUM({property.lifetime_revenue})
    where: "{property.cohort_day} = 7"
    x_axis:
      date: {}
  revenue_on_day_3:
    select: SUM({property.revenue_on_day})
    where: "{property.cohort_day} = 3"
    x_axis:
      date: {}
  users_on_day_7:
    select: COUNT({property.entity_id})
    where: "{property.cohort_day} = 7"
    x_axis:
      date: {}
  any_active_on_day_7:
    select: MAX({property.dau_active})
    where: "{property.cohort_day} = 7"
    x_axis:
      date: {}
  active_on_day_7:
    select: SUM({property.dau_active})
    where: "{property.cohort_day} = 7"
    x_axis:
      date: {}
  users_by_cohort_day:
    select: COUNT({property.entity_id})
    x_axis:
      cohort_day: {}
"""

EXTRA_PROPERTIES = """properties:
  churn_flag:
    data_type: INTEGER
    computed_property:
      select: "IF(COALESCE({days_since_last_active}, 9999) >= 7, 1, 0)"
  active_label:
    data_type: STRING
    can_group_by: true
    computed_property:
      select: "IF({dau_active} = 1, 'active', 'idle')"
  odd_step:
    data_type: INTEGER
    computed_property:
      select: "IF({days_since_last_active} IS NULL, 5, IF({days_since_last_active} > 10, 2, 0))"
"""


@pytest.fixture(scope="module")
def model(demo_template, tmp_path_factory):
    import shutil

    root = tmp_path_factory.mktemp("delta") / "project"
    shutil.copytree(demo_template, root)
    yield from _refreshed(root)


@pytest.fixture(scope="module")
def long_model(tmp_path_factory):
    """75 days: a range can start late in a month, active_days after the first day."""
    root = tmp_path_factory.mktemp("delta_long") / "project"
    init_demo(root, DemoSpec(users=300, days=75, seed=11))
    yield from _refreshed(root)


@pytest.fixture(scope="module")
def early_activity(demo_template, tmp_path_factory):
    """The demo where some users' sessions of their registration day took place 3 days
    before it: their days_since_last_active starts above 0, while their windows see only
    registered days."""
    import shutil

    import duckdb

    root = tmp_path_factory.mktemp("delta_early") / "project"
    shutil.copytree(demo_template, root)
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        first = con.sql("SELECT MIN(event_date) FROM game.registrations").fetchall()[0][0]
        con.execute("""UPDATE game.sessions SET event_ts = event_ts - INTERVAL 3 DAY, event_date = event_date - INTERVAL 3 DAY
                       WHERE EXISTS (SELECT 1 FROM game.registrations r WHERE r.user_id = sessions.user_id
                                     AND r.event_date = sessions.event_date AND r.event_date >= ? + INTERVAL 14 DAY
                                     AND hash(r.user_id) % 3 = 0)""", [first])
        assert con.sql("SELECT COUNT(*) FROM game.sessions s JOIN game.registrations r ON r.user_id = s.user_id "
                       "WHERE s.event_date < r.event_date").fetchall()[0][0] > 20
    yield from _refreshed(root)


@pytest.fixture(scope="module")
def late_activity(demo_template, tmp_path_factory):
    """The demo with active_days 10 where some users were not active on their registration
    day: a quarter of them came two days later instead, another quarter never came
    (days_since_last_active is NULL on their registration day), a third quarter came 8
    days before registering (the registration row says the user was active within
    active_days of day N only for N <= 2). For the last two the registration row does not
    decide the population of a later day; the activity days in between do."""
    import shutil

    import duckdb

    root = tmp_path_factory.mktemp("delta_late") / "project"
    shutil.copytree(demo_template, root)
    config = root / "userentity" / "config.yml"
    assert "active_days: 30" in config.read_text()
    config.write_text(config.read_text().replace("active_days: 30", f"active_days: {LATE_ACTIVE_DAYS}"))
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        first = con.sql("SELECT MIN(event_date) FROM game.registrations").fetchall()[0][0]
        con.execute("""UPDATE game.sessions SET event_ts = event_ts + INTERVAL 2 DAY, event_date = event_date + INTERVAL 2 DAY
                       WHERE hash(user_id) % 4 = 0 AND EXISTS (SELECT 1 FROM game.registrations r
                           WHERE r.user_id = sessions.user_id AND r.event_date = sessions.event_date)""")
        con.execute("DELETE FROM game.sessions WHERE hash(user_id) % 4 = 1")
        con.execute("""UPDATE game.sessions SET event_ts = event_ts - INTERVAL 8 DAY, event_date = event_date - INTERVAL 8 DAY
                       WHERE hash(user_id) % 4 = 2 AND EXISTS (SELECT 1 FROM game.registrations r
                           WHERE r.user_id = sessions.user_id AND r.event_date = sessions.event_date
                           AND r.event_date >= ? + INTERVAL 8 DAY)""", [first])
        # purchases (not an activity table) 1, 3 and 7 days after registering, with or without a session that day
        con.execute("""INSERT INTO game.purchases SELECT user_id, event_ts + to_days(k), event_date + to_days(k),
                           1.25 * k + (hash(user_id) % 7), 'p' || k, user_id || '-' || k, loaded_at
                       FROM game.registrations, (VALUES (1), (3), (7)) AS t(k) WHERE hash(user_id) % 3 = 0""")
    yield from _refreshed(root)


LATE_ACTIVE_DAYS = 10


def _refreshed(root):
    (root / "userentity" / "kpis" / "delta_test.yml").write_text(EXTRA_KPIS)
    (root / "userentity" / "properties" / "delta_test.yml").write_text(EXTRA_PROPERTIES)
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
        "weekly_and_monthly": pl.col("wau_active").filter(recent).sum() * 1000000 + pl.col("mau_active").filter(recent).sum(),
        "active_days_7d": pl.col("days_active_last_7_days").filter(recent).sum(),
        "mau_lost": pl.col("mau_lost").sum(),
        "churned_users": pl.col("churn_flag").sum(),
        "lost_share": pl.col("mau_lost").sum() * 100 / pl.len(),
        "odd_steps": pl.col("odd_step").sum(),
        "dated_rows": pl.len(),
        # no row meets the where: no point
        "lost_users_counted": pl.when((pl.col("mau_lost") == 1).sum() > 0).then(
            pl.col("entity_id").filter(pl.col("mau_lost") == 1).count()),
    }
    return rows.group_by(["date", *by]).agg(values[kpi].alias("value")).sort(["date", *by])


def _assert_points(points: pl.DataFrame, want: pl.DataFrame) -> None:
    """Each day's value equal to the dense model's (both NULL, or within 1e-9)."""
    got = points.join(want, on="date", how="left", suffix="_want")
    for value, expected in zip(got["value"].to_list(), got["value_want"].to_list()):
        assert (value is None and expected is None) or value == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kpi", ["mau", "wau", "payers_to_date", "users_to_date", "active_share", "weekly_and_monthly",
                                 "active_days_7d"])
@pytest.mark.parametrize("offsets", [(0, 0), (9, 2), (25, 0)])
def test_summed_runs_give_the_dense_models_points(model, kpi, offsets) -> None:
    project, source, dense, first, last = model
    day_from, day_to = first + dt.timedelta(days=offsets[0]), last - dt.timedelta(days=offsets[1])
    result = project.kpi_query(KpiRequest(kpi, day_from, day_to), source=source)
    assert '__runs AS' in result.sql, "the KPI was not summed over runs"
    want = _expected(dense, kpi, day_from, day_to)
    assert result.points.height == (day_to - day_from).days + 1
    _assert_points(result.points, want)


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
    # the total is over the ungrouped series, computed in the same statement from the same runs
    assert result.sql.count("__runs AS MATERIALIZED") == 1 and "__part" in result.sql
    series = _expected(dense, kpi, request.date_from, request.date_to, where=pl.col("country") != "US")["value"]
    function = resolved.kpis[kpi].x_axes["date"]
    assert result.total == pytest.approx(series.mean() if function == "avg" else series.sum(), rel=1e-9)
    assert function in ("avg", "sum")


def test_summed_runs_roll_up_to_weeks_like_the_expanded_days(model, monkeypatch) -> None:
    project, source, _dense, first, last = model
    request = KpiRequest("mau", first, last, grain="week")
    summed = project.kpi_query(request, source=source)
    monkeypatch.setattr(kpi_module, "applicable", lambda *args, **kwargs: False)
    expanded = project.kpi_query(request, source=source)
    assert '__runs AS' in summed.sql and '__runs AS' not in expanded.sql
    assert summed.points.to_dicts() == expanded.points.to_dicts()


@pytest.mark.parametrize("kpi", ["mau_lost", "churned_users", "lost_share", "lost_users_counted"])
@pytest.mark.parametrize("offsets", [(0, 0), (9, 2), (40, 0)])
def test_step_functions_of_the_days_since_last_active_are_summed_over_every_registered_day(long_model, kpi,
                                                                                          offsets) -> None:
    """mau_lost (1 on the day the last activity becomes 28 days old) and a churn flag (1
    from 7 days without activity, and for users never active) over every registered user:
    runs of the activity part within reach of an activity, and every registered day from
    the users table past it, without reading the other part (75 days: users lost)."""
    project, source, dense, first, last = long_model
    day_from, day_to = first + dt.timedelta(days=offsets[0]), last - dt.timedelta(days=offsets[1])
    result = project.kpi_query(KpiRequest(kpi, day_from, day_to), source=source)
    assert '__runs AS' in result.sql and OTHER_PART not in result.sql
    want = _expected(dense, kpi, day_from, day_to)
    assert result.points.height == (day_to - day_from).days + 1 and want["value"].sum() > 0
    _assert_points(result.points, want)


@pytest.mark.parametrize("kpi", ["mau_lost", "churned_users"])
def test_step_functions_by_group_with_a_filter(long_model, kpi) -> None:
    project, source, dense, first, last = long_model
    resolved = project.resolved()
    request = KpiRequest(kpi, first + dt.timedelta(days=20), last, by=["platform"],
                         filters=[parse_filter("country != 'US'", resolved)])
    result = project.kpi_query(request, source=source)
    assert '__runs AS' in result.sql and OTHER_PART not in result.sql
    want = _expected(dense, kpi, request.date_from, request.date_to, by=["platform"], where=pl.col("country") != "US")
    got = result.points.filter(pl.col("value").is_not_null()).sort(["date", "platform"])
    assert got.select("date", "platform").to_dicts() == want.select("date", "platform").to_dicts()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)


def test_a_step_function_grouped_by_the_days_since_last_active_is_expanded(long_model) -> None:
    """A run holds days_since_last_active of its first day only: grouped or filtered by it,
    mau_lost expands its days."""
    project, source, dense, first, last = long_model
    resolved = project.resolved()
    request = KpiRequest("mau_lost", first + dt.timedelta(days=30), last, by=["days_since_last_active"],
                         filters=[parse_filter("days_since_last_active >= 20", resolved)])
    result = project.kpi_query(request, source=source)
    assert '__runs AS' not in result.sql
    want = _expected(dense, "mau_lost", request.date_from, request.date_to, by=["days_since_last_active"],
                     where=pl.col("days_since_last_active") >= 20)
    got = result.points.filter(pl.col("value").is_not_null()).sort(["date", "days_since_last_active"])
    assert want["value"].sum() > 0
    assert got.select("date", "days_since_last_active", "value").to_dicts() == want.to_dicts()


def test_a_kpi_reading_the_date_is_expanded(long_model) -> None:
    """Runs hold no date of their own days: COUNT({property.date}) expands its days."""
    project, source, dense, first, last = long_model
    result = project.kpi_query(KpiRequest("dated_rows", first + dt.timedelta(days=30), last), source=source)
    assert '__runs AS' not in result.sql
    want = _expected(dense, "dated_rows", first + dt.timedelta(days=30), last)
    assert result.points.sort("date").to_dicts() == want.with_columns(pl.col("value").cast(pl.Int64)).to_dicts()


def test_a_step_function_valued_otherwise_for_users_never_active_is_expanded(model) -> None:
    """odd_step is 5 for a user never active and 2 long after an activity: the users past
    every activity's reach cannot all be valued alike, so its days are expanded."""
    project, source, dense, first, last = model
    result = project.kpi_query(KpiRequest("odd_steps", first, last), source=source)
    assert '__runs AS' not in result.sql
    want = _expected(dense, "odd_steps", first, last)
    assert result.points.sort("date").to_dicts() == want.to_dicts()


OTHER_PART = "__active=false"


@pytest.mark.parametrize("kpi", ["mau", "wau", "stickiness", "weekly_and_monthly"])
def test_recency_windows_are_summed_from_the_activity_part_alone(model, kpi, monkeypatch) -> None:
    """MAU, WAU and the like read only the rows of activity and registration days: their
    windows are derived from days_since_last_active (the values are checked against the
    dense model above and here against the runs over every stored row)."""
    project, source, _dense, first, last = model
    request = KpiRequest(kpi, first + dt.timedelta(days=3), last, by=["platform"])
    assert any(OTHER_PART in f for f in source.plan([], None, None).files), "the daily table is split"
    result = project.kpi_query(request, source=source)
    assert '__runs AS' in result.sql and OTHER_PART not in result.sql
    monkeypatch.setattr(kpi_module, "activity_columns", lambda *args: None)
    full = project.kpi_query(request, source=source)
    assert OTHER_PART in full.sql
    assert result.points.to_dicts() == full.points.to_dicts()


def test_windows_that_change_off_the_activity_days_read_every_stored_row(model) -> None:
    """A 7-day sum drops on the day an activity leaves it, a day that is not an activity
    day: such a KPI reads the other part too."""
    project, source, _dense, first, last = model
    result = project.kpi_query(KpiRequest("active_days_7d", first, last), source=source)
    assert '__runs AS' in result.sql and OTHER_PART in result.sql


@pytest.mark.parametrize("kpi", ["mau", "weekly_and_monthly"])
def test_recency_windows_of_a_range_starting_late_in_a_month(long_model, kpi) -> None:
    """A user last active in the active_days before the range, but before the first day of
    the range's month, is still counted (the activity part has no month-start rows)."""
    project, source, dense, first, last = long_model
    day_from = last - dt.timedelta(days=8)
    entity = project.resolved().entity
    assert day_from.day < entity.active_days and day_from - dt.timedelta(days=entity.active_days) > first
    result = project.kpi_query(KpiRequest(kpi, day_from, last), source=source)
    assert '__runs AS' in result.sql and OTHER_PART not in result.sql
    want = _expected(dense, kpi, day_from, last)
    assert result.points.sort("date").to_dicts() == want.to_dicts()


def _retention(rows: pl.DataFrame, key: str) -> pl.DataFrame:
    value = pl.col("dau_active").sum() * 100 / pl.col("cohort_size").sum()
    return rows.group_by(key).agg(pl.when(pl.col("cohort_size").sum() > 0).then(value).alias("value")).sort(key)


@pytest.mark.parametrize("n", [0, 1, 7, 14])
def test_counter_days_are_derived_from_the_activity_part(model, n) -> None:
    """retention_dN reads the rows of activity and registration days only: a user's day N
    is valued from the latest of them (dau_active is 0 on any other day)."""
    project, source, dense, first, last = model
    result = project.kpi_query(KpiRequest(f"retention_d{n}", first, last), source=source)
    assert OTHER_PART not in result.sql
    rows = dense.filter((pl.col("cohort_day") == n) & (pl.col("days_since_last_active") <= 30))
    want = _retention(rows, "date")
    got = result.points.filter(pl.col("value").is_not_null()).sort("date")
    assert got["date"].to_list() == want["date"].to_list()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)


def test_the_cohort_axis_is_derived_from_the_activity_part(model) -> None:
    project, source, dense, first, last = model
    day_from, day_to = first + dt.timedelta(days=2), first + dt.timedelta(days=12)
    result = project.kpi_query(KpiRequest("retention", day_from, day_to, x_axis="cohort_day"), source=source)
    assert OTHER_PART not in result.sql
    days = project.resolved().entity.cohorted_daily_kpis_days
    rows = dense.filter(pl.col("registration_date").is_between(day_from, day_to) & pl.col("cohort_day").is_in(days))
    want = _retention(rows, "cohort_day")
    got = result.points.filter(pl.col("value").is_not_null()).sort("cohort_day")
    assert got["cohort_day"].to_list() == want["cohort_day"].to_list()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)


def test_counter_days_of_a_recency_window_read_every_stored_row(model) -> None:
    """wau_active on cohort day 14 is 0 for a user last active on day 3: carried from the
    user's last activity row it would be 1, so such a reader keeps every stored row."""
    project, source, dense, first, last = model
    result = project.kpi_query(KpiRequest("weekly_on_day_14", first, last), source=source)
    assert OTHER_PART in result.sql
    rows = dense.filter((pl.col("cohort_day") == 14) & (pl.col("days_since_last_active") <= 30))
    want = rows.group_by("date").agg(pl.col("wau_active").sum().alias("value")).sort("date")
    got = result.points.filter(pl.col("value").is_not_null()).sort("date")
    assert got.to_dicts() == want.to_dicts()


def test_the_cohort_axis_of_a_recency_window_reads_every_stored_row(model) -> None:
    project, source, dense, first, last = model
    day_from, day_to = first, first + dt.timedelta(days=10)
    result = project.kpi_query(KpiRequest("weekly_by_cohort_day", day_from, day_to, x_axis="cohort_day"), source=source)
    assert OTHER_PART in result.sql
    days = project.resolved().entity.cohorted_daily_kpis_days
    rows = dense.filter(pl.col("registration_date").is_between(day_from, day_to) & pl.col("cohort_day").is_in(days))
    want = rows.group_by("cohort_day").agg(pl.col("wau_active").sum().alias("value")).sort("cohort_day")
    got = result.points.filter(pl.col("value").is_not_null()).sort("cohort_day")
    assert got.to_dicts() == want.to_dicts()


@pytest.mark.parametrize("kpi", ["mau", "wau", "weekly_and_monthly", "active_share"])
def test_recency_windows_of_users_active_before_registering(early_activity, kpi) -> None:
    """A window sees only registered days: activity before registration makes
    days_since_last_active small on the first days, but leaves the window off."""
    project, source, dense, first, last = early_activity
    early = dense.filter((pl.col("cohort_day") == 0) & (pl.col("days_since_last_active") > 0))
    assert early.height > 10 and early["mau_active"].sum() == 0
    result = project.kpi_query(KpiRequest(kpi, first, last), source=source)
    assert '__runs AS' in result.sql and OTHER_PART not in result.sql
    want = _expected(dense, kpi, first, last)
    _assert_points(result.points, want)


@pytest.mark.parametrize("kpi", ["mau_lost", "churned_users", "lost_share"])
def test_step_functions_of_users_active_before_registering(early_activity, kpi) -> None:
    """days_since_last_active counts activity before registration; step functions of it
    read it as it is (unlike windows)."""
    project, source, dense, first, last = early_activity
    result = project.kpi_query(KpiRequest(kpi, first, last), source=source)
    assert '__runs AS' in result.sql and OTHER_PART not in result.sql
    want = _expected(dense, kpi, first, last)
    _assert_points(result.points, want)


@pytest.mark.parametrize("n", [0, 1, 7])
def test_counter_days_of_users_active_before_registering(early_activity, n) -> None:
    project, source, dense, first, last = early_activity
    result = project.kpi_query(KpiRequest(f"retention_d{n}", first, last), source=source)
    assert OTHER_PART not in result.sql
    want = _retention(dense.filter((pl.col("cohort_day") == n) & (pl.col("days_since_last_active") <= 30)), "date")
    got = result.points.filter(pl.col("value").is_not_null()).sort("date")
    assert got["date"].to_list() == want["date"].to_list()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)


FROM_REGISTRATION = '"cohort_day" IN (0, '  # the rows a cohort_day reader valued from registration rows reads


def _assert_retention(result, dense: pl.DataFrame, n: int, where=None, by=(), active_days: int = 30) -> None:
    rows = dense.filter((pl.col("cohort_day") == n) & (pl.col("days_since_last_active") <= active_days))
    rows = rows.filter(where) if where is not None else rows
    value = pl.col("dau_active").sum() * 100 / pl.col("cohort_size").sum()
    want = rows.group_by(["date", *by]).agg(value.alias("value")).sort(["date", *by])
    got = result.points.filter(pl.col("value").is_not_null()).sort(["date", *by])
    assert got.select("date", *by).to_dicts() == want.select("date", *by).to_dicts()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)


SIGNED = '"__sign"'  # rows summed with their signs
NO_ENTITY_ID = '__counter_rows AS MATERIALIZED (SELECT "date", '  # the rows read without entity_id


@pytest.mark.parametrize("n", [1, 3, 7, 14])
def test_cohort_day_readers_valued_from_registration_rows(model, n) -> None:
    """retention_dN reads no user's latest row: each user's day N is valued from that day's
    row (active) or the registration row. Every registration day of the demo is an activity
    day, as the files' statistics show: the activity part is read once, without entity_id,
    and its rows are summed with signs (the day's row, the registration row moved, minus
    the day's row valued as the registration row moved) instead of matching users."""
    project, source, dense, first, last = model
    result = project.kpi_query(KpiRequest(f"retention_d{n}", first, last), source=source)
    assert FROM_REGISTRATION + f"{n})" in result.sql and result.sql.count("READ_PARQUET") == 1
    assert SIGNED in result.sql and NO_ENTITY_ID in result.sql and "ANTI" not in result.sql.upper()
    _assert_retention(result, dense, n)


@pytest.mark.parametrize("grain", ["day", "week"])
def test_signed_cohort_day_rows_by_group_with_a_filter(model, grain) -> None:
    project, source, dense, first, last = model
    request = KpiRequest("retention_d3", first, last, by=["platform"], grain=grain,
                         filters=[parse_filter("country != 'US'", project.resolved())])
    result = project.kpi_query(request, source=source)
    assert SIGNED in result.sql
    if grain == "day":
        _assert_retention(result, dense, 3, where=pl.col("country") != "US", by=["platform"])
        # the total averages the ungrouped series, aggregated with the groups (GROUPING SETS)
        rows = dense.filter((pl.col("cohort_day") == 3) & (pl.col("days_since_last_active") <= 30)
                            & (pl.col("country") != "US"))
        series = rows.group_by("date").agg((pl.col("dau_active").sum() * 100 / pl.col("cohort_size").sum()).alias("v"))
        assert "GROUPING SETS" in result.sql and result.total == pytest.approx(series["v"].mean(), rel=1e-9)
        return
    rows = dense.filter((pl.col("cohort_day") == 3) & (pl.col("days_since_last_active") <= 30) & (pl.col("country") != "US"))
    daily = rows.group_by(["date", "platform"]).agg((pl.col("dau_active").sum() * 100 / pl.col("cohort_size").sum()).alias("v"))
    want = daily.group_by([pl.col("date").dt.truncate("1w"), "platform"]).agg(pl.col("v").mean().alias("value"))
    got = result.points.filter(pl.col("value").is_not_null())
    joined = got.join(want, on=["date", "platform"], how="full", suffix="_want")
    assert joined.height == got.height == want.height
    assert joined["value"].to_list() == pytest.approx(joined["value_want"].to_list(), rel=1e-9)


def test_signed_cohort_day_rows_grouped_by_an_event_property(model) -> None:
    """Grouped by a property of dau_active, a user active on day 7 is in group "active";
    the registration row moved and its taking back, both idle, cancel in group "idle"."""
    project, source, dense, first, last = model
    result = project.kpi_query(KpiRequest("retention_d7", first, last, by=["active_label"]), source=source)
    assert SIGNED in result.sql
    _assert_retention(result, dense, 7, by=["active_label"])
    assert set(result.points["active_label"].to_list()) == {"active", "idle"}


@pytest.mark.parametrize("kpi", ["users_on_day_7", "any_active_on_day_7"])
def test_cohort_day_readers_of_entity_ids_or_maxima_are_not_signed(model, kpi) -> None:
    """A count of entity_id reads the ids the signed rows leave out; a MAX has no signed sum."""
    project, source, dense, first, last = model
    result = project.kpi_query(KpiRequest(kpi, first, last), source=source)
    assert FROM_REGISTRATION + "7)" in result.sql and SIGNED not in result.sql
    rows = dense.filter((pl.col("cohort_day") == 7) & (pl.col("days_since_last_active") <= 30))
    value = pl.col("entity_id").count() if kpi == "users_on_day_7" else pl.col("dau_active").max()
    want = rows.group_by("date").agg(value.alias("value")).sort("date")
    got = result.points.filter(pl.col("value").is_not_null()).sort("date")
    assert got["date"].to_list() == want["date"].to_list()
    assert got["value"].to_list() == want["value"].to_list()


def test_the_cohort_axis_of_entity_ids_is_not_signed(model) -> None:
    project, source, dense, first, last = model
    day_from, day_to = first + dt.timedelta(days=1), first + dt.timedelta(days=12)
    result = project.kpi_query(KpiRequest("users_by_cohort_day", day_from, day_to, x_axis="cohort_day"), source=source)
    assert '"__n"' in result.sql and SIGNED not in result.sql
    days = project.resolved().entity.cohorted_daily_kpis_days
    rows = dense.filter(pl.col("registration_date").is_between(day_from, day_to) & pl.col("cohort_day").is_in(days))
    want = rows.group_by("cohort_day").agg(pl.col("entity_id").count().alias("value")).sort("cohort_day")
    got = result.points.filter(pl.col("value").is_not_null()).sort("cohort_day")
    assert got.to_dicts() == want.to_dicts()


@pytest.mark.parametrize("n", [1, 3, 7])
def test_cohort_day_readers_of_users_inactive_on_registering(late_activity, n) -> None:
    """A user not active on the registration day belongs to day N's population only if
    active in between or within active_days before day N: the activity days in between
    are read for the users the registration row leaves open."""
    project, source, dense, first, last = late_activity
    registering = dense.filter(pl.col("cohort_day") == 0)
    assert registering.filter(pl.col("days_since_last_active").is_null()).height > 20
    assert registering.filter(pl.col("days_since_last_active") == 8).height > 10
    # users counted on day N only through a day in between: the registration row alone would be wrong
    settled = dense.filter((pl.col("cohort_day") == n) & (pl.col("days_since_last_active") > 0)).join(
        registering.select("entity_id", pl.col("days_since_last_active").alias("at_registration")), on="entity_id")
    if n > 1:
        assert settled.filter(pl.col("at_registration").is_null() & (pl.col("days_since_last_active") <= LATE_ACTIVE_DAYS)).height > 5
        assert settled.filter((pl.col("at_registration") == 8) & (pl.col("days_since_last_active") > LATE_ACTIVE_DAYS)).height > 5
    result = project.kpi_query(KpiRequest(f"retention_d{n}", first, last), source=source)
    assert FROM_REGISTRATION + f"{n})" in result.sql and SIGNED not in result.sql
    assert result.sql.count("READ_PARQUET") == (2 if n > 1 else 1)
    _assert_retention(result, dense, n, active_days=LATE_ACTIVE_DAYS)


def test_cohort_day_readers_from_registration_by_group_with_a_filter(late_activity) -> None:
    project, source, dense, first, last = late_activity
    request = KpiRequest("retention_d3", first, last, by=["platform"],
                         filters=[parse_filter("country != 'US'", project.resolved())])
    result = project.kpi_query(request, source=source)
    assert FROM_REGISTRATION + "3)" in result.sql
    _assert_retention(result, dense, 3, where=pl.col("country") != "US", by=["platform"], active_days=LATE_ACTIVE_DAYS)


def test_cohort_day_readers_of_days_since_last_active_read_latest_rows(late_activity) -> None:
    """A filter on days_since_last_active reads its exact value: each user's latest row."""
    project, source, dense, first, last = late_activity
    request = KpiRequest("retention_d7", first, last, filters=[parse_filter("days_since_last_active <= 3", project.resolved())])
    result = project.kpi_query(request, source=source)
    assert FROM_REGISTRATION not in result.sql
    _assert_retention(result, dense, 7, where=pl.col("days_since_last_active") <= 3, active_days=LATE_ACTIVE_DAYS)


def test_cohort_day_readers_of_carried_values_read_latest_rows(late_activity) -> None:
    """Lifetime revenue on cohort day 7 is carried from the user's latest row, not the
    registration row."""
    project, source, dense, first, last = late_activity
    result = project.kpi_query(KpiRequest("lifetime_on_day_7", first, last), source=source)
    assert FROM_REGISTRATION not in result.sql
    rows = dense.filter((pl.col("cohort_day") == 7) & (pl.col("days_since_last_active") <= LATE_ACTIVE_DAYS))
    assert rows["lifetime_revenue"].sum() > 0
    want = rows.group_by("date").agg(pl.col("lifetime_revenue").sum().alias("value")).sort("date")
    got = result.points.filter(pl.col("value").is_not_null()).sort("date")
    assert got["date"].to_list() == want["date"].to_list()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)


@pytest.mark.parametrize("fixture", ["model", "late_activity"])
@pytest.mark.parametrize("by", [[], ["platform"], ["active_label"]])
def test_the_cohort_axis_valued_from_registration_rows(request, fixture, by) -> None:
    """Cohort retention reads the rows of the cohorted days only: a user's cohort day N is
    that day's row (active) or the registration row moved N days (not active: dau_active 0).
    Its sums need no user matched with its registration row: the rows count with signs
    (the day's row, the registration row moved, minus the day's row valued as the
    registration row moved), read without entity_id; grouped by a property of dau_active,
    the moved row and its taking back cancel in group "idle"."""
    project, source, dense, first, last = request.getfixturevalue(fixture)
    day_from, day_to = first + dt.timedelta(days=1), first + dt.timedelta(days=12)
    grouped = bool(by)
    filters = [parse_filter("country != 'US'", project.resolved())] if grouped else []
    result = project.kpi_query(KpiRequest("retention", day_from, day_to, x_axis="cohort_day", by=by, filters=filters),
                               source=source)
    assert SIGNED in result.sql and NO_ENTITY_ID in result.sql and OTHER_PART not in result.sql
    assert ("GROUPING SETS" in result.sql) == grouped
    days = project.resolved().entity.cohorted_daily_kpis_days
    rows = dense.filter(pl.col("registration_date").is_between(day_from, day_to) & pl.col("cohort_day").is_in(days))
    rows = rows.filter(pl.col("country") != "US") if grouped else rows
    value = pl.col("dau_active").sum() * 100 / pl.col("cohort_size").sum()
    want = rows.group_by(["cohort_day", *by]).agg(value.alias("value")).sort(["cohort_day", *by])
    got = result.points.filter(pl.col("value").is_not_null()).sort(["cohort_day", *by])
    assert got.select("cohort_day", *by).to_dicts() == want.select("cohort_day", *by).to_dicts()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)


def test_cohort_days_of_an_event_property_without_activity_read_every_stored_row(late_activity) -> None:
    """Revenue comes from purchases, not an activity table: a user with purchases but no
    session that day has a stored row outside the activity part. Cohort day N is that
    row, else the registration row (revenue 0): every stored row of the cohorted days is read."""
    import duckdb

    project, source, dense, first, last = late_activity
    with duckdb.connect(str(project.root / "warehouse.duckdb"), read_only=True) as con:
        alone = con.sql("""SELECT COUNT(*) FROM game.purchases p WHERE NOT EXISTS (SELECT 1 FROM game.sessions s
                           WHERE s.user_id = p.user_id AND s.event_date = p.event_date)""").fetchall()[0][0]
    assert alone > 20  # purchases on days without a session
    result = project.kpi_query(KpiRequest("revenue_on_day_3", first, last), source=source)
    assert FROM_REGISTRATION + "3)" in result.sql and OTHER_PART in result.sql
    rows = dense.filter((pl.col("cohort_day") == 3) & (pl.col("days_since_last_active") <= LATE_ACTIVE_DAYS))
    want = rows.group_by("date").agg(pl.col("revenue_on_day").sum().alias("value")).sort("date")
    got = result.points.filter(pl.col("value").is_not_null()).sort("date")
    assert got["date"].to_list() == want["date"].to_list()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)
    cohort = project.kpi_query(KpiRequest("revenue", first, last - dt.timedelta(days=3), x_axis="cohort_day"),
                               source=source)
    assert '"__n"' in cohort.sql and OTHER_PART in cohort.sql
    days = project.resolved().entity.cohorted_daily_kpis_days
    rows = dense.filter(pl.col("registration_date").is_between(first, last - dt.timedelta(days=3))
                        & pl.col("cohort_day").is_in(days))
    want = rows.group_by("cohort_day").agg(pl.col("revenue_on_day").sum().alias("value")).sort("cohort_day")
    got = cohort.points.filter(pl.col("value").is_not_null()).sort("cohort_day")
    assert got["cohort_day"].to_list() == want["cohort_day"].to_list()
    assert got["value"].to_list() == pytest.approx(want["value"].to_list(), rel=1e-9)
