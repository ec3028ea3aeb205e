"""The Explore page (AppTest) and the pure helpers behind it."""

from __future__ import annotations

import datetime as dt
import json
import time

import polars as pl
import pytest

from asemic_core.errors import AsemicError
from asemic_core.jobs import children
from asemic_core.jobs.requests import active_job
from asemic_core.query import explore
from asemic_core.query.filters import Filter

PAGE = "pages/explore.py"


def _open(app):
    app.switch_page(PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _charts(app) -> list:
    return app.get("vega_lite_chart")


def _captions(app) -> str:
    return "\n".join(c.value for c in app.caption)


def test_renders_a_chart_for_the_first_kpi_over_the_last_30_days(app, studio_project):
    _open(app)
    status = studio_project.status()
    last = dt.date.fromisoformat(status.watermark)
    assert app.date_input(key="explore_dates").value == (last - dt.timedelta(days=29), last)
    assert len(_charts(app)) == 1
    assert app.metric[0].value not in ("", "–")
    assert not app.error


def test_one_chart_per_kpi(app):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau", "revenue"]).run()
    assert not app.exception
    assert len(_charts(app)) == 2
    assert any(m.value.startswith("$") for m in app.metric)  # revenue's unit is a $ prefix
    spec = json.loads(_charts(app)[1].proto.spec)
    assert {"field": "value_label", "title": "Revenue", "type": "nominal"} in spec["encoding"]["tooltip"]
    assert spec["encoding"]["y"]["axis"]["labelExpr"] == "'$' + datum.label"
    assert spec["params"] == [{"name": "brush_revenue", "select": {"type": "interval", "encodings": ["x"]}}]


def test_retention_offers_only_the_cohort_axis(app):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["retention"]).run()
    assert not app.exception
    axis = app.radio(key="explore_axis")
    assert axis.options == ["Cohort day"]
    assert axis.value == "cohort_day"
    assert len(_charts(app)) == 1
    assert app.metric[0].value.endswith("%")
    assert app.selectbox(key="explore_grain").disabled


def test_switching_the_axis_to_cohort_day(app):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["revenue"]).run()
    app.radio(key="explore_axis").set_value("cohort_day").run()
    assert not app.exception and not app.error
    app.toggle(key="explore_table").set_value(True).run()
    points = app.dataframe[0].value
    assert list(points.columns) == ["cohort_day", "value"]


def test_kpis_without_a_shared_axis_are_explained(app):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["retention", "dau"]).run()
    assert not app.exception
    assert "share no x axis" in app.error[0].value
    assert not _charts(app)


def test_group_by_platform(app):
    _open(app)
    options = app.multiselect(key="explore_by").options
    assert "platform" in options and "cohort_day" in options and "revenue_on_day" not in options
    app.multiselect(key="explore_by").set_value(["platform"]).run()
    app.toggle(key="explore_table").set_value(True).run()
    assert not app.exception and not app.error
    points = app.dataframe[0].value
    assert "platform" in points.columns
    assert set(points["platform"].dropna()) <= {"ios", "android", "web"}
    assert "overall" in _captions(app)


def test_a_filter_restricts_the_users(app):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    unfiltered = app.metric[0].value
    app.button(key="explore_add_filter").click().run()
    app.selectbox(key="explore_filter_prop_0").set_value("platform").run()
    app.selectbox(key="explore_filter_op_0").set_value("=").run()
    app.text_input(key="explore_filter_value_0").input("ios").run()
    assert not app.exception and not app.error
    assert "where platform = 'ios'" in _captions(app)
    assert app.metric[0].value != unfiltered
    assert len(_charts(app)) == 1


def test_an_invalid_filter_value_shows_an_error_and_no_chart(app):
    _open(app)
    app.button(key="explore_add_filter").click().run()
    app.selectbox(key="explore_filter_prop_0").set_value("cohort_day").run()
    app.text_input(key="explore_filter_value_0").input("abc").run()
    assert not app.exception
    assert "not a valid" in app.error[0].value and "abc" in app.error[0].value
    assert not _charts(app)


def test_removing_a_filter_row(app):
    _open(app)
    app.button(key="explore_add_filter").click().run()
    app.button(key="explore_filter_remove_0").click().run()
    assert not app.exception
    assert "No filters" in _captions(app)


def test_values_from_ad_hoc_columns_are_noted(app, studio_project):
    path = studio_project.root / "userentity" / "properties" / "activity.yml"
    text = path.read_text()
    path.write_text(text.replace("window_function: max\n      relative_days_from: -6",
                                 "window_function: max\n      relative_days_from: -5", 1))
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["wau"]).run()
    assert not app.exception and not app.error
    assert any("wau_active" in i.value and "computed on the fly" in i.value for i in app.info)


def _brush(app, kpi: str, day_from: str, day_to: str, grain: str = "day") -> None:
    """What the browser sends when the user drags across the chart of ``kpi`` (the chart's key
    names the range it shows, so a zoom starts a fresh selection)."""
    shown_from, shown_to = app.date_input(key="explore_dates").value
    key = f"explore_chart_{kpi}_{grain}_{shown_from}_{shown_to}"
    app.session_state[key] = {"selection": {f"brush_{kpi}": {"day": [_ms(day_from, 12), _ms(day_to, 12)]}}}
    app.run()


def test_dragging_zooms_and_zoom_out_goes_back(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    before = app.date_input(key="explore_dates").value
    first = dt.date.fromisoformat(studio_project.status().watermark) - dt.timedelta(days=9)
    _brush(app, "dau", str(first), str(first + dt.timedelta(days=3)))
    assert not app.exception
    assert app.date_input(key="explore_dates").value == (first, first + dt.timedelta(days=3))
    assert f"Zoomed to **{first} .. {first + dt.timedelta(days=3)}** (4 day(s))" in _captions(app)
    points = json.loads(_charts(app)[0].proto.spec)
    assert len(app.get("vega_lite_chart")) == 1 and points
    _brush(app, "dau", str(first + dt.timedelta(days=1)), str(first + dt.timedelta(days=2)))
    assert app.date_input(key="explore_dates").value == (first + dt.timedelta(days=1), first + dt.timedelta(days=2))
    app.button(key="explore_zoom_out").click().run()
    assert app.date_input(key="explore_dates").value == (first, first + dt.timedelta(days=3))
    app.button(key="explore_zoom_out").click().run()
    assert app.date_input(key="explore_dates").value == before
    assert not [b for b in app.button if b.key in ("explore_zoom_out", "explore_rewind")]


def test_brushing_days_offers_a_rewind_with_its_plan(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    first = dt.date.fromisoformat(studio_project.status().watermark) - dt.timedelta(days=5)
    _brush(app, "dau", str(first), str(first + dt.timedelta(days=1)))
    assert f"Zoomed to **{first} .. {first + dt.timedelta(days=1)}** (2 day(s))" in _captions(app)
    app.button(key="explore_rewind").click().run()
    assert not app.exception
    text = "\n".join(m.value for m in app.markdown)
    assert f"requested: {first} .. {first + dt.timedelta(days=1)}" in text  # the plan's reasons
    app.button(key="explore_rewind_cancel").click().run()
    assert not [b for b in app.button if b.key == "explore_rewind_confirm"]
    assert len(studio_project.jobs()) == 1


def test_confirming_the_rewind_launches_the_job(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    day = dt.date.fromisoformat(studio_project.status().watermark) - dt.timedelta(days=2)
    _brush(app, "dau", str(day), str(day))
    app.button(key="explore_rewind").click().run()
    button = app.button(key="explore_rewind_confirm")
    assert button.label == f"Rewind {day} .. {studio_project.status().watermark}"  # the plan's days
    button.click().run()
    assert not app.exception and not app.error
    assert any(f"rewind {day} .. {studio_project.status().watermark}" in p.proto.text
               for p in app.get("progress"))  # followed where it was launched, same range as the button
    deadline = time.monotonic() + 60
    while (children.running() or active_job(studio_project.jobs())) and time.monotonic() < deadline:
        time.sleep(0.25)
    job = studio_project.jobs()[0]
    assert (job.kind, job.origin, job.status, job.args) == ("rewind", "app", "succeeded",
                                                             {"from": str(day), "to": str(day)})
    app.run()
    assert any(s.value.startswith(f"rewind `{job.id}` succeeded") for s in app.success)


def test_a_rewind_while_a_job_runs_names_it(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    day = dt.date.fromisoformat(studio_project.status().watermark)
    _brush(app, "dau", str(day), str(day))
    app.button(key="explore_rewind").click().run()
    lock = studio_project.model_store().lock
    lock.acquire("test-job")
    try:
        app.button(key="explore_rewind_confirm").click().run()
    finally:
        lock.release()
    assert not app.exception
    assert any("test-job" in e.value for e in app.error)


def test_a_kpi_removed_from_the_config_is_dropped_from_the_choice(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["wau", "dau"]).run()
    path = studio_project.root / "userentity" / "kpis" / "activity.yml"
    text = path.read_text()
    start = text.index("  wau:\n")
    path.write_text(text[:start] + text[text.index("  mau:\n"):])
    app.run()
    assert not app.exception and not app.error
    assert app.multiselect(key="explore_kpis").value == ["dau"]
    assert len(_charts(app)) == 1


def test_a_week_grain(app):
    _open(app)
    app.selectbox(key="explore_grain").set_value("week").run()
    assert not app.exception and not app.error
    assert len(_charts(app)) == 1


# -- helpers --------------------------------------------------------------------------------
def test_shared_axes(studio_project):
    kpis = studio_project.resolved().kpis
    assert explore.shared_axes([kpis["revenue"], kpis["active_users"]]) == ["date", "cohort_day"]
    assert explore.shared_axes([kpis["revenue"], kpis["dau"]]) == ["date"]
    assert explore.shared_axes([kpis["retention"], kpis["dau"]]) == []
    assert explore.axes_conflict([kpis["retention"], kpis["revenue"], kpis["dau"], kpis["ltv"]]) == \
        "only cohort_day: Retention, LTV; only date: DAU"


def test_make_filter(studio_project):
    resolved = studio_project.resolved()
    assert explore.make_filter(resolved, "platform", "in", "ios, web") == Filter("platform", "in", ("ios", "web"))
    assert explore.make_filter(resolved, "platform", "is null", "ignored") == Filter("platform", "is null")
    with pytest.raises(AsemicError, match="enter a value"):
        explore.make_filter(resolved, "platform", "=", " ")
    with pytest.raises(AsemicError, match="not a valid"):
        explore.make_filter(resolved, "registration_date", ">=", "yesterday")


@pytest.mark.parametrize(("value", "symbol", "prefix", "text"), [
    (None, "$", True, "–"),
    (1234.5, "$", True, "$1,234"),
    (-2.5, "$", True, "-$2.50"),
    (33.494, "%", False, "33.49%"),
    (12.0, None, False, "12"),
    (0.0, None, False, "0"),
    (3.0, "min", False, "3 min"),
])
def test_format_value(value, symbol, prefix, text):
    assert explore.format_value(value, symbol, prefix) == text


def _ms(day: str, hour: int = 0) -> float:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").timestamp() * 1000


def test_brushed_days_touches_whole_buckets_and_clips_to_the_model():
    days = [dt.date(2026, 2, 1) + dt.timedelta(days=i) for i in range(10)]
    assert explore.brushed_days([_ms("2026-02-03", 12), _ms("2026-02-05", 6)], "day", days) == \
        (dt.date(2026, 2, 3), dt.date(2026, 2, 5))
    assert explore.brushed_days(["2026-02-05T06:00:00Z", "2026-02-03T12:00:00Z"], "day", days) == \
        (dt.date(2026, 2, 3), dt.date(2026, 2, 5))
    weeks = [dt.date(2026, 1, 26), dt.date(2026, 2, 2), dt.date(2026, 2, 9)]
    assert explore.brushed_days([_ms("2026-02-03"), _ms("2026-02-04")], "week", weeks, last=dt.date(2026, 2, 6)) == \
        (dt.date(2026, 2, 2), dt.date(2026, 2, 6))
    assert explore.brushed_days([_ms("2026-03-01"), _ms("2026-03-02")], "day", days) is None
    assert explore.brushed_days(None, "day", days) is None


def test_bucket_end():
    assert explore.bucket_end(dt.date(2026, 2, 1), "month") == dt.date(2026, 2, 28)
    assert explore.bucket_end(dt.date(2026, 10, 1), "quarter") == dt.date(2026, 12, 31)
    assert explore.bucket_end(dt.date(2026, 1, 1), "year") == dt.date(2026, 12, 31)


def test_default_range_is_the_last_30_materialized_days():
    assert explore.default_range("2026-01-01", "2026-03-01") == (dt.date(2026, 1, 31), dt.date(2026, 3, 1))
    assert explore.default_range("2026-02-20", "2026-03-01") == (dt.date(2026, 2, 20), dt.date(2026, 3, 1))
    assert explore.default_range(None, None) is None


def test_results_csv_stacks_every_kpi():
    def series(kpi, values):
        points = pl.DataFrame({"date": [dt.date(2026, 1, 1), dt.date(2026, 1, 2)], "value": values})
        return explore.ExploreSeries(kpi, kpi, None, False, "date", "day", [], "sum", points, points, None,
                                     dt.date(2026, 1, 1), dt.date(2026, 1, 2))

    text = explore.results_csv([series("a", [1.0, None]), series("b", [2.0, 3.0])]).decode()
    assert text.splitlines() == ["kpi,date,value", "a,2026-01-01,1.0", "a,2026-01-02,", "b,2026-01-01,2.0",
                                 "b,2026-01-02,3.0"]


def test_partial_weeks_are_marked(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    last = dt.date.fromisoformat(studio_project.status().watermark)
    first = last - dt.timedelta(days=20)
    app.date_input(key="explore_dates").set_value((first, last)).run()
    app.selectbox(key="explore_grain").set_value("week").run()
    assert not app.exception
    monday = first - dt.timedelta(days=first.weekday())
    covered = (monday + dt.timedelta(days=6) - first).days + 1
    caption = next(c.value for c in app.caption if "Hollow points are incomplete weeks" in c.value)
    if covered < 7:
        assert f"{monday}: {covered} of 7 days" in caption
    spec = json.loads(_charts(app)[0].proto.spec)
    marked = [layer for layer in spec["layer"] if layer.get("mark", {}).get("fill") == "white"]
    assert len(marked) == 1


def test_immature_cohort_days_are_marked(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["retention"]).run()
    assert not app.exception
    caption = next(c.value for c in app.caption if "immature cohort days" in c.value)
    last = dt.date.fromisoformat(studio_project.status().watermark)
    date_from, date_to = app.date_input(key="explore_dates").value
    assert date_to == last  # so every cohort day > 0 misses the last registration day
    assert "Hollow points are immature cohort days (1, " in caption


def test_grouping_by_a_property_that_changes_warns(app):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    app.multiselect(key="explore_by").set_value(["activity_segment"]).run()
    assert not app.exception
    assert any("`activity_segment` for" in w.value and "changes within the range" in w.value for w in app.warning)
    app.multiselect(key="explore_by").set_value(["registration_date"]).run()
    assert not any("changes within the range" in w.value for w in app.warning)


def test_sql_names_the_catalog_views(app, studio_project):
    _open(app)
    app.toggle(key="explore_sql").set_value(True).run()
    sql = next(c.value for c in app.code if c.language == "sql")
    assert '"asemic_model"."daily"' in sql and "parquet" not in sql.lower()
    assert sql.startswith("-- KPI ") and len(sql.splitlines()) > 20


def test_a_ratio_summed_over_weeks_warns(app, studio_project):
    path = studio_project.root / "userentity" / "kpis" / "ratios.yml"
    path.write_text("kpis:\n  arpdau_summed:\n    select: SUM({property.revenue_on_day}) / SUM({property.dau_active})\n"
                    "    x_axis:\n      date: {}\n    label: ARPDAU summed\n")
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["arpdau_summed"]).run()
    app.selectbox(key="explore_grain").set_value("week").run()
    assert any(w.value.startswith("ARPDAU summed is a ratio, but its total function is `sum`") for w in app.warning)


def test_a_comma_after_equals_suggests_in(studio_project):
    resolved = studio_project.resolved()
    with pytest.raises(AsemicError, match="choose the operator 'in'"):
        explore.make_filter(resolved, "country", "=", "US, DE")
    with pytest.raises(AsemicError, match="choose the operator 'not in'"):
        explore.make_filter(resolved, "country", "!=", "US, DE")
    assert explore.make_filter(resolved, "country", "=", "'US, DE'") == Filter("country", "=", "US, DE")
    assert explore.make_filter(resolved, "country", "in", "US, DE") == Filter("country", "in", ("US", "DE"))
