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


def _brush(app, kpi: str, day_from: str, day_to: str) -> None:
    """What the browser sends when the user drags across the chart of ``kpi``."""
    app.session_state[f"explore_chart_{kpi}"] = {"selection": {f"brush_{kpi}": {"day": [_ms(day_from, 12),
                                                                                        _ms(day_to, 12)]}}}
    app.run()


def test_brushing_days_offers_a_rewind_with_its_plan(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    first = dt.date.fromisoformat(studio_project.status().watermark) - dt.timedelta(days=5)
    _brush(app, "dau", str(first), str(first + dt.timedelta(days=1)))
    assert f"Brushed {first} .. {first + dt.timedelta(days=1)} (2 day(s))" in _captions(app)
    app.button(key="explore_rewind_dau").click().run()
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
    app.button(key="explore_rewind_dau").click().run()
    app.button(key="explore_rewind_confirm").click().run()
    assert not app.exception and not app.error
    assert any("Started rewind" in s.value for s in app.success)
    deadline = time.monotonic() + 60
    while (children.running() or active_job(studio_project.jobs())) and time.monotonic() < deadline:
        time.sleep(0.25)
    job = studio_project.jobs()[0]
    assert (job.kind, job.origin, job.status, job.args) == ("rewind", "app", "succeeded",
                                                             {"from": str(day), "to": str(day)})


def test_a_rewind_while_a_job_runs_names_it(app, studio_project):
    _open(app)
    app.multiselect(key="explore_kpis").set_value(["dau"]).run()
    day = dt.date.fromisoformat(studio_project.status().watermark)
    _brush(app, "dau", str(day), str(day))
    app.button(key="explore_rewind_dau").click().run()
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
