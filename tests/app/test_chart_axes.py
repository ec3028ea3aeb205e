"""Charts read the same everywhere: one date format per chart, chosen by the grain of its
points, and axis titles broken into lines that fit their axis instead of being cut off."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from studio_tree import open_object

from studio.chart_axes import axis_title, date_axis

LONG_LABEL = "Average revenue per daily active user over the whole period (USD, after refunds)"


def _specs(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


@pytest.mark.parametrize("grain, fmt", [("day", "%b %d"), ("week", "%b %d"), ("month", "%b %Y"),
                                        ("quarter", "%b %Y"), ("year", "%Y")])
def test_a_date_axis_has_one_format_by_grain(grain, fmt) -> None:
    axis = date_axis(grain).to_dict()
    assert axis["format"] == fmt and axis["labelAngle"] == 0


def test_a_long_title_is_broken_into_lines_no_longer_than_the_axis() -> None:
    # 280 px at 7 px a character: 40 characters a line, broken at spaces
    assert axis_title(LONG_LABEL, 280) == ["Average revenue per daily active user",
                                           "over the whole period (USD, after", "refunds)"]
    assert axis_title("Active users", 280) == "Active users"


def test_explore_labels_every_tick_of_a_month_chart_alike_and_wraps_a_long_kpi_label(app, studio_project) -> None:
    path = studio_project.root / "userentity/kpis/activity.yml"
    path.write_text(path.read_text().replace("label: DAU", f"label: {LONG_LABEL}"))
    app.switch_page("pages/explore.py").run()
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    app.selectbox(key="explore_grain").set_value("month").run()
    assert not app.exception, app.exception
    spec = _specs(app)[0]
    chart = spec["layer"][0] if "layer" in spec else spec
    assert chart["encoding"]["x"]["axis"]["format"] == "%b %Y"
    assert chart["encoding"]["y"]["title"] == axis_title(LONG_LABEL, 280)
    assert " ".join(chart["encoding"]["y"]["title"]) == LONG_LABEL


def test_the_kpi_preview_labels_its_days_alike(kpis_page) -> None:
    open_object(kpis_page, "kpi", "arpdau")
    spec = _specs(kpis_page)[0]
    x = spec["layer"][0]["encoding"]["x"]
    assert x["axis"]["format"] == "%b %d" and x["scale"] == {"type": "utc"}


def test_the_job_days_chart_draws_its_day_axis_once_with_a_bar_a_day(app) -> None:
    app.switch_page("pages/jobs.py").run()
    days = next(s for s in _specs(app) if "vconcat" in s)
    rows, seconds = days["vconcat"]
    assert rows["encoding"]["x"]["type"] == seconds["encoding"]["x"]["type"] == "ordinal"  # a band per day
    assert rows["encoding"]["x"]["axis"]["labels"] is False and rows["encoding"]["x"]["title"] is None
    assert seconds["encoding"]["x"]["axis"]["labelExpr"] == "utcFormat(toDate(datum.value), '%b %d')"
    assert seconds["encoding"]["x"]["title"] == "Day"


def test_a_week_chart_has_a_tick_on_each_monday_its_weeks_start(app, studio_project) -> None:
    app.switch_page("pages/explore.py").run()
    app.selectbox(key="explore_grain").set_value("week").run()
    assert not app.exception, app.exception
    date_from, date_to = app.date_input(key="explore_dates").value
    monday = date_from - dt.timedelta(days=date_from.weekday())
    weeks = [monday + dt.timedelta(days=7 * i) for i in range((date_to - monday).days // 7 + 1)]
    spec = _specs(app)[0]
    chart = spec["layer"][0] if "layer" in spec else spec
    ticks = chart["encoding"]["x"]["axis"]["values"]
    assert ticks == [{"year": w.year, "month": w.month, "date": w.day, "utc": True} for w in weeks]
    assert chart["encoding"]["x"]["axis"]["format"] == "%b %d"


def test_a_few_days_get_one_tick_each_and_many_weeks_every_nth() -> None:
    few = [dt.date(2026, 1, 27) + dt.timedelta(days=i) for i in range(6)]
    assert date_axis("day", few).to_dict()["values"] == [
        {"year": 2026, "month": 1, "date": d, "utc": True} for d in (27, 28, 29, 30, 31)] + [
        {"year": 2026, "month": 2, "date": 1, "utc": True}]
    assert "values" not in date_axis("day", [few[0] + dt.timedelta(days=i) for i in range(40)]).to_dict()
    mondays = [dt.date(2025, 1, 6) + dt.timedelta(days=7 * i) for i in range(40)]  # 40 weeks: every 3rd
    ticks = date_axis("week", mondays).to_dict()["values"]
    assert [(t["month"], t["date"]) for t in ticks[:3]] == [(1, 6), (1, 27), (2, 17)] and len(ticks) == 14
