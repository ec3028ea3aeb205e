"""The sparse layout (sql/sparse.py, sql/expansion.py): stored change days, the logical model
derived from them.

- Random projects (the hypothesis generator of test_engine_properties) cut down to the
  properties the sparse layout stores sparse (windows and lifetime values over event
  properties, computed properties over those): every property value, on every user-day of
  the logical model, equals the reference implementation's (reference.py, which knows
  nothing of layouts).
- The demo config: the rows the sparse layout stores are the dense model's rows on those
  days, value for value; expanded, they are the dense model (every range, every key).
- Configs without a short list of change days are computed dense, with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from budget import budget
from hypothesis import HealthCheck, assume, given, note, settings
from polars.testing import assert_frame_equal
from random_project import Prop, Scenario, scenarios, write_project
from test_engine_properties import check_kpis, check_properties

from asemic_core.engine import source_day_range, warehouse_executor
from asemic_core.project import Project
from asemic_core.semantic.activity import activity_columns, follows_activity
from asemic_core.sql.expansion import cohort_days, counter_days, expand_at, expand_range
from asemic_core.sql.runs import gap_constant, spans
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
from asemic_core.sql.render import render
from asemic_core.sql.sparse import layout_of
from asemic_core.storage.schema import daily_columns
from sqlglot import exp

HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
WINDOW_KINDS = ("sliding_window_property", "fixed_window_property", "lifetime_property")
REFERENCE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _reads(prop: Prop) -> set[str]:
    body = prop.body.get(prop.kind, {})
    names = set(REFERENCE.findall(str(body.get("select", ""))))
    if prop.kind in WINDOW_KINDS:
        if "source_property" in body:
            names.add(body["source_property"])
        inner = body.get("source_computed_property")
        if inner is not None:
            names |= set(REFERENCE.findall(str(inner.get("select", ""))))
    return names


def _drop_with_dependents(props: list[Prop], dropped: set[str]) -> list[Prop]:
    ids = {p.id for p in props}
    kept = list(props)
    while True:
        before = len(kept)
        kept = [p for p in kept if p.id not in dropped and not (_reads(p) & (dropped & ids))]
        dropped |= ids - {p.id for p in kept}
        if len(kept) == before:
            return kept


def _kpis_over(scenario: Scenario, props: list[Prop]) -> tuple[dict, list]:
    """The scenario's KPIs that read only ``props`` (and base properties), and their queries."""
    dropped = {p.id for p in scenario.props} - {p.id for p in props}
    text = {k: str(body) for k, body in scenario.kpis.items()}
    kpis = {k: body for k, body in scenario.kpis.items()
            if not (set(re.findall(r"property\.([A-Za-z_][A-Za-z0-9_]*)", text[k])) & dropped)}
    changed = True
    while changed:  # a KPI that reads a dropped KPI goes too
        kept = {k: body for k, body in kpis.items()
                if all(ref in kpis for ref in re.findall(r"kpi\.([A-Za-z_][A-Za-z0-9_]*)", text[k]))}
        changed, kpis = len(kept) != len(kpis), kept
    queries = [q for q in scenario.queries if q["kpi"] in kpis and not (set(q["by"]) & dropped)
               and not ({f[0] for f in q["filters"]} & dropped)]
    return kpis, queries


def sparse_part(scenario: Scenario) -> Scenario:
    """The scenario without the properties the sparse layout cannot store sparse (and what
    reads them): windows and lifetime values over computed or window sources first, then
    whatever the engine's layout rule still names."""
    kinds = {p.id: p.kind for p in scenario.props}
    not_event = set()
    for prop in scenario.props:
        body = prop.body.get(prop.kind, {})
        if prop.kind in WINDOW_KINDS and "source_event_property" not in body:
            source = body.get("source_property")
            if source is None or kinds.get(source) != "event_property":
                not_event.add(prop.id)
    props = _drop_with_dependents(scenario.props, not_event)
    for _attempt in range(len(props) + 1):
        candidate = replace(scenario, props=props, kpis={}, queries=[])
        with tempfile.TemporaryDirectory() as directory:
            resolved = Project(write_project(candidate, Path(directory) / "p")).resolved()
            layout = layout_of(resolved, [p.id for p in resolved.properties.values() if not p.is_base])
        if layout.sparse:
            kpis, queries = _kpis_over(scenario, props)
            return replace(candidate, kpis=kpis, queries=queries)
        culprit = layout.reason.split(":")[0].split(" ")[0]
        props = _drop_with_dependents(props, {culprit.removesuffix("__inner")})
    raise AssertionError("the layout rule never settles")  # pragma: no cover


def _sparse_examples(count: int):
    return settings(max_examples=count, deadline=None, suppress_health_check=HEALTH)


def _check(scenario: Scenario) -> None:
    part = sparse_part(scenario)
    assume(any(p.kind in WINDOW_KINDS for p in part.props))
    note(f"sparse part: {[p.id for p in part.props]}")
    check_properties(part)


@_sparse_examples(12)
@given(scenarios())
def test_random_sparse_projects_match_the_reference(scenario: Scenario) -> None:
    _check(scenario)


@pytest.mark.slow
@_sparse_examples(budget(ci=15, thorough=300))
@given(scenarios())
def test_random_sparse_projects_match_the_reference_many_examples(scenario: Scenario) -> None:
    _check(scenario)


def _check_kpis(scenario: Scenario) -> None:
    part = sparse_part(scenario)
    assume(any(p.kind in WINDOW_KINDS for p in part.props) and part.queries)
    note(f"sparse part: {[p.id for p in part.props]}, KPIs {sorted(part.kpis)}")
    check_kpis(part)


@_sparse_examples(10)
@given(scenarios(with_kpis=True))
def test_random_sparse_projects_kpis_match_the_reference(scenario: Scenario) -> None:
    _check_kpis(scenario)


@pytest.mark.slow
@_sparse_examples(budget(ci=12, thorough=250))
@given(scenarios(with_kpis=True))
def test_random_sparse_projects_kpis_match_the_reference_many_examples(scenario: Scenario) -> None:
    _check_kpis(scenario)


# ------------------------------------------------------------------------ the demo config


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("sparse") / "demo"
    done = subprocess.run([sys.executable, "-m", "asemic_core.cli", "demo", "init", str(root), "--users", "300",
                           "--days", "75"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    project = Project(root)
    resolved = project.resolved()
    executor = warehouse_executor(root / "warehouse.duckdb", resolved)
    first, last = source_day_range(executor, resolved)
    columns = daily_columns(resolved)
    builder = ModelQueryBuilder(resolved)
    dense = executor.frame(render(builder.build(ModelRequest(columns, first, last, dense=True)))).sort(["entity_id", "date"])
    sparse_sql = builder.build(ModelRequest(columns, first, last))
    stored = executor.frame(render(sparse_sql)).sort(["entity_id", "date"])
    yield resolved, executor, columns, dense, sparse_sql, stored, (first, last), root
    executor.close()


def test_the_demo_stores_its_change_days_with_the_dense_models_values(demo) -> None:
    resolved, _executor, _columns, dense, _sql, stored, _days, _root = demo
    layout = layout_of(resolved, [p.id for p in resolved.properties.values() if not p.is_base])
    assert layout.sparse and layout.reason is None
    # dau_active (default 0) feeds max windows: runs of default days matter, so 1-to and -from too.
    assert {0, 1, 7, 28} <= set(layout.shifts)
    # days_active_previous_7_days (-7 .. -1) holds none of a user's days on the registration
    # day: it changes the day after (shift 1); it enters on the day after each active day
    # (1) and leaves the day after days_active_last_7_days does (8). Each row stores its
    # value on the next day instead, so none of those days is stored: all follow a stored day.
    assert layout.next_day == ("days_active_previous_7_days",)
    assert layout.registration_shifts == (0,)
    informative = {m.source: m.shifts for m in layout.source_shifts if m.condition == "informative"}
    assert informative["dau_active"] == (7, 28)
    every_day = layout_of(resolved, [p.id for p in resolved.properties.values() if not p.is_base], next_day=False)
    assert every_day.next_day == () and every_day.registration_shifts == (0, 1)
    assert {m.source: m.shifts for m in every_day.source_shifts if m.condition == "informative"}["dau_active"] == (
        1, 7, 8, 28)
    assert stored.height < 0.8 * dense.height
    later = "__next_days_active_previous_7_days"
    values = stored.drop(later)
    on_stored_days = dense.join(stored.select("entity_id", "date"), on=["entity_id", "date"], how="semi")
    assert_frame_equal(values, on_stored_days.select(values.columns), rel_tol=1e-9, abs_tol=1e-12)
    # the next-day value is the dense model's value on the next day (up to the last day)
    next_days = dense.select("entity_id", (pl.col("date") - pl.duration(days=1)).alias("date"),
                             pl.col("days_active_previous_7_days").alias("want"))
    checked = stored.join(next_days, on=["entity_id", "date"], how="inner")
    assert checked.height == stored.filter(pl.col("date") < _days[1]).height > 0
    assert (checked[later] == checked["want"]).all()


@pytest.mark.parametrize("offsets", [(0, 0), (20, 3), (30, 30), (33, 10)])
def test_expanding_a_range_gives_the_dense_model(demo, offsets) -> None:
    resolved, executor, columns, dense, sparse_sql, _stored, (first, last), _root = demo
    day_from, day_to = first + dt.timedelta(days=offsets[0]), last - dt.timedelta(days=offsets[1])
    expanded = executor.frame(render(expand_range(resolved, exp.Subquery(this=sparse_sql), columns, day_from, day_to)))
    want = dense.filter(pl.col("date").is_between(day_from, day_to)).select(expanded.columns)
    assert want.height > 0
    assert_frame_equal(expanded.sort(["entity_id", "date"]), want, rel_tol=1e-9, abs_tol=1e-12)


def test_expanding_at_keys_gives_the_dense_values(demo) -> None:
    resolved, executor, columns, dense, sparse_sql, _stored, _days, _root = demo
    keys = dense.sample(500, seed=7).select("entity_id", "date")
    executor.con.register("sampled_keys", keys.to_arrow())
    at = executor.frame(render(expand_at(resolved, exp.Subquery(this=sparse_sql), exp.to_table("sampled_keys"), columns)))
    want = dense.join(keys, on=["entity_id", "date"], how="semi").select(at.columns)
    assert_frame_equal(at.sort(["entity_id", "date"]), want.sort(["entity_id", "date"]), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("counter", ["cohort_day", "days_since_last_active"])
@pytest.mark.parametrize(("n", "offsets"), [(0, (30, 0)), (1, (20, 3)), (7, (40, 10)), (28, (30, 0))])
def test_counter_days_give_the_dense_rows_where_the_counter_has_the_value(demo, counter, n, offsets) -> None:
    """A reader filtering on ``counter = n`` sees exactly the dense rows with that value
    (counter_days may derive more keys; the filter drops them with their derived values)."""
    resolved, executor, columns, dense, sparse_sql, _stored, (first, last), _root = demo
    day_from, day_to = first + dt.timedelta(days=offsets[0]), last - dt.timedelta(days=offsets[1])
    derived = executor.frame(render(counter_days(resolved, exp.Subquery(this=sparse_sql), columns, counter, n,
                                                 day_from, day_to)))
    got = derived.filter(pl.col(counter) == n).sort(["entity_id", "date"])
    want = dense.filter(pl.col("date").is_between(day_from, day_to) & (pl.col(counter) == n)).select(got.columns)
    assert want.height > 0
    assert_frame_equal(got, want.sort(["entity_id", "date"]), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(("registered", "offsets"), [(None, (0, 0)), ((10, 25), (0, 0)), ((5, 40), (20, 3))])
def test_cohort_days_give_the_dense_rows_of_the_cohorted_days(demo, registered, offsets) -> None:
    """The cohort axis reads each user's days whose cohort_day is one of
    cohorted_daily_kpis_days, within the range (of the users registered in ``registered``,
    days after the first): exactly the dense model's rows there."""
    resolved, executor, columns, dense, sparse_sql, _stored, (first, last), _root = demo
    days = sorted(set(resolved.entity.cohorted_daily_kpis_days))
    assert len(days) > 2 and max(days) > 0
    day_from, day_to = first + dt.timedelta(days=offsets[0]), last - dt.timedelta(days=offsets[1])
    reg = (first + dt.timedelta(days=registered[0]), first + dt.timedelta(days=registered[1])) if registered else None
    got = executor.frame(render(cohort_days(resolved, exp.Subquery(this=sparse_sql), columns, days, day_from, day_to,
                                            registered=reg)))
    want = dense.filter(pl.col("date").is_between(day_from, day_to) & pl.col("cohort_day").is_in(days))
    if reg is not None:
        want = want.filter(pl.col("registration_date").is_between(*reg))
    assert want.height > 0
    assert_frame_equal(got.sort(["entity_id", "date"]), want.select(got.columns).sort(["entity_id", "date"]),
                       rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("previous", [False, True, "unsplit"])
@pytest.mark.parametrize("recent", [30, 5])
@pytest.mark.parametrize("offsets", [(0, 0), (20, 3), (33, 10)])
def test_spans_of_the_activity_rows_derive_the_recency_windows(demo, recent, offsets, previous) -> None:
    """From the rows of activity and registration days alone, runs cut where a recency
    window (mau_active, wau_active) turns off give the dense model's values on every
    recent day, for every column that follows from those days. ``previous``: the rows
    store each activity day's previous one, and runs taken back (sign -1) replace the
    pairing of rows, and alike runs are one (their sign counts them): counted with their
    signs, each day has the dense model's rows. ``unsplit``: so from every stored row (a
    table without the activity part, as Spark writes it)."""
    resolved, executor, columns, dense, sparse_sql, _stored, (first, last), _root = demo
    day_from, day_to = first + dt.timedelta(days=offsets[0]), last - dt.timedelta(days=offsets[1])
    names = [c for c in columns if gap_constant(resolved, c) and follows_activity(resolved, c)
             and c != "days_since_last_active"]
    windows = activity_columns(resolved, names)
    assert windows is not None and {"mau_active", "wau_active"} <= set(windows)
    if previous:
        sparse_sql = ModelQueryBuilder(resolved).build(ModelRequest(columns, first, last, previous_active=True))
    active = exp.select("*").from_(exp.Subquery(this=sparse_sql, alias="s"))
    if previous != "unsplit":
        active = active.where("days_since_last_active = 0 OR cohort_day = 0")
    runs = executor.frame(render(spans(resolved, exp.Subquery(this=active), names, day_from, day_to,
                                       recent_days=recent, recency=windows, previous=bool(previous))))
    assert (runs["__sign"] < 0).any() == bool(previous)
    days = runs.with_columns(pl.date_ranges("__start", "__end").alias("date")).explode("date").drop("__start", "__end")
    want = dense.filter(pl.col("date").is_between(day_from, day_to) & (pl.col("days_since_last_active") <= recent))
    assert want.height > 0 and want["wau_active"].n_unique() == (2 if recent > 6 else 1)
    assert want["mau_active"].n_unique() == (2 if recent > 27 else 1)
    if previous:  # runs stand for as many users as their sign says, with one value each day
        keys = ["date", *names]
        counted = days.group_by(keys).agg(pl.col("__sign").sum().alias("n")).filter(pl.col("n") != 0)
        wanted = want.group_by(keys).agg(pl.len().cast(pl.Int64).alias("n"))
        assert_frame_equal(counted.with_columns(pl.col("n").cast(pl.Int64)).sort(keys, nulls_last=True),
                           wanted.select(counted.columns).sort(keys, nulls_last=True), rel_tol=1e-9, abs_tol=1e-12)
        return
    assert (runs["__sign"] == 1).all()
    assert_frame_equal(days.select("entity_id", "date", *names).sort(["entity_id", "date"]),
                       want.select("entity_id", "date", *names).sort(["entity_id", "date"]), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("recent", [None, 30, 5])
@pytest.mark.parametrize("offsets", [(0, 0), (20, 3), (33, 10)])
def test_spans_cover_the_dense_days_with_their_values(demo, recent, offsets) -> None:
    """Runs of days (one row per stored row and per gap) hold, on every day they cover, the
    dense model's values of the columns that do not change on gap days; with ``recent``,
    exactly the days within that many days of the last activity."""
    resolved, executor, columns, dense, sparse_sql, _stored, (first, last), _root = demo
    day_from, day_to = first + dt.timedelta(days=offsets[0]), last - dt.timedelta(days=offsets[1])
    constant = [c for c in columns if gap_constant(resolved, c)]
    assert {"mau_active", "lifetime_revenue", "registration_date"} <= set(constant)
    assert "cohort_day" not in constant and "days_since_last_active" not in constant
    runs = executor.frame(render(spans(resolved, exp.Subquery(this=sparse_sql), constant, day_from, day_to,
                                       recent_days=recent)))
    days = runs.with_columns(pl.date_ranges("__start", "__end").alias("date")).explode("date").drop("__start", "__end")
    want = dense.filter(pl.col("date").is_between(day_from, day_to))
    if recent is not None:
        want = want.filter(pl.col("days_since_last_active") <= recent)
    assert want.height > 0 and runs.height < want.height
    assert_frame_equal(days.select("entity_id", "date", *constant).sort(["entity_id", "date"]),
                       want.select("entity_id", "date", *constant).sort(["entity_id", "date"]), rel_tol=1e-9, abs_tol=1e-12)


# ------------------------------------------------------------------------ dense fallback


def _edited(demo_root: Path, tmp_path: Path, text: str) -> Project:
    import shutil

    root = tmp_path / "p"
    shutil.copytree(demo_root, root)
    (root / "userentity" / "properties" / "sparse_test.yml").write_text(text)
    return Project(root)


@pytest.mark.parametrize(("text", "reason"), [
    ("properties:\n  weekly_segment_days:\n    data_type: INTEGER\n    sliding_window_property:\n"
     "      window_function: count\n      relative_days_from: -6\n      relative_days_to: 0\n"
     "      source_property: payment_segment\n",
     "weekly_segment_days reads payment_segment (computed property)"),
    ("properties:\n  revenue_plus_one_lifetime:\n    data_type: NUMBER\n    lifetime_property:\n"
     "      merge_function: sum\n      source_event_property:\n        source_event: purchase\n"
     "        select: '{amount_usd}'\n        aggregate_function: sum\n        default_value: 1\n",
     "revenue_plus_one_lifetime: sum over revenue_plus_one_lifetime__inner, whose default 1"),
])
def test_configs_without_a_short_list_of_change_days_are_dense(demo, tmp_path, text, reason) -> None:
    project = _edited(demo[-1], tmp_path, text)
    edited = project.resolved()
    layout = layout_of(edited, [p.id for p in edited.properties.values() if not p.is_base])
    assert not layout.sparse and layout.reason.startswith(reason), layout.reason


def test_a_dense_fallback_config_still_validates(demo, tmp_path) -> None:
    """The fallback cases above are real configs (a typo would make the layout test vacuous)."""
    project = _edited(demo[-1], tmp_path, "properties:\n  revenue_plus_one_lifetime:\n    data_type: NUMBER\n"
                      "    lifetime_property:\n      merge_function: sum\n      source_event_property:\n"
                      "        source_event: purchase\n        select: '{amount_usd}'\n"
                      "        aggregate_function: sum\n        default_value: 1\n")
    assert project.validate(dry_run=False).errors == []


GAP_NEIGHBOURS = """properties:
  longest_session_or_600_7d:
    data_type: NUMBER
    sliding_window_property:
      window_function: max
      relative_days_from: -6
      relative_days_to: -3
      source_event_property: {source_event: session, select: '{session_length_s}', aggregate_function: max,
                              default_value: 600}
  shortest_session_or_60_before:
    data_type: NUMBER
    sliding_window_property:
      window_function: min
      relative_days_from: -4
      relative_days_to: -1
      source_event_property: {source_event: session, select: '{session_length_s}', aggregate_function: min,
                              default_value: 60}
  long_sessions_7d:
    data_type: NUMBER
    sliding_window_property:
      window_function: sum
      relative_days_from: -6
      relative_days_to: -3
      source_event_property: {source_event: session, select: 'CASE WHEN {session_length_s} > 600 THEN {session_length_s} END',
                              aggregate_function: sum, default_value: 0}
  platforms_7d:
    data_type: INTEGER
    sliding_window_property:
      window_function: count_distinct
      relative_days_from: -6
      relative_days_to: 0
      source_event_property: {source_event: session, select: '{platform}', aggregate_function: last_value,
                              default_value: web}
  first_long_session:
    data_type: NUMBER
    lifetime_property:
      merge_function: first_value
      source_event_property: {source_event: session, select: 'CASE WHEN {session_length_s} > 900 THEN {session_length_s} END',
                              aggregate_function: max, default_value: 0}
  longest_session_or_600:
    data_type: NUMBER
    lifetime_property:
      merge_function: max
      source_event_property: {source_event: session, select: '{session_length_s}', aggregate_function: max,
                              default_value: 600}
  last_platform_or_web:
    data_type: STRING
    lifetime_property:
      merge_function: last_value
      source_event_property: {source_event: session, select: '{platform}', aggregate_function: last_value,
                              default_value: web}
"""


def test_the_days_next_to_default_runs_are_stored_after_the_values_they_can_change(demo, tmp_path) -> None:
    """With a non-NULL default, the gap days next to a day with events enter and leave the
    windows holding that day; only a day whose value the default can beat moves them (NULL,
    below the default for MAX, above for MIN, any other value for COUNT(DISTINCT) and
    last_value). Windows of each kind, over session lengths and platforms around those
    defaults: expanded, the stored rows are the dense model on every day."""
    project = _edited(demo[-1], tmp_path, GAP_NEIGHBOURS)
    assert project.validate(dry_run=False).errors == []
    resolved = project.resolved()
    layout = layout_of(resolved, [p.id for p in resolved.properties.values() if not p.is_base])
    conditions = {(m.source, m.condition) for m in layout.source_shifts}
    assert {("longest_session_or_600_7d__inner", "below"), ("shortest_session_or_60_before__inner", "above"),
            ("long_sessions_7d__inner", "null"), ("platforms_7d__inner", "informative"),
            ("first_long_session__inner", "null"), ("longest_session_or_600__inner", "below"),
            ("last_platform_or_web__inner", "informative")} <= conditions
    executor = warehouse_executor(tmp_path / "p" / "warehouse.duckdb", resolved)
    try:
        first, last = source_day_range(executor, resolved)
        columns = daily_columns(resolved)
        builder = ModelQueryBuilder(resolved)
        dense = executor.frame(render(builder.build(ModelRequest(columns, first, last, dense=True))))
        sparse_sql = builder.build(ModelRequest(columns, first, last))
        expanded = executor.frame(render(expand_range(resolved, exp.Subquery(this=sparse_sql), columns, first, last)))
        assert_frame_equal(expanded.sort(["entity_id", "date"]), dense.sort(["entity_id", "date"]).select(expanded.columns),
                           rel_tol=1e-9, abs_tol=1e-12)
        for name in ("longest_session_or_600_7d", "shortest_session_or_60_before", "long_sessions_7d"):
            assert dense[name].n_unique() > 3  # the windows see values on both sides of their defaults
    finally:
        executor.close()


def _window(function: str, low: int, high: int, select: str, aggregate: str, default) -> dict:
    return {"data_type": "NUMBER", "sliding_window_property": {
        "window_function": function, "relative_days_from": low, "relative_days_to": high,
        "source_event_property": {"source_event": "events", "select": select, "aggregate_function": aggregate,
                                  "default_value": default}}}


BIG = "CASE WHEN {v} > 10 THEN {v} END"  # NULL on a day of small values


@pytest.mark.parametrize(("prop", "events", "want"), [
    # MAX with default 5 after two days below it: the first day without events enters the frame
    (_window("max", -6, 0, "{v}", "max", 5), {0: 1.0, 1: 2.0}, [1.0, 2.0, 5.0, 5.0]),
    # MIN with default 5 after two days above it
    (_window("min", -6, 0, "{v}", "min", 5), {0: 7.0, 1: 8.0}, [7.0, 7.0, 5.0, 5.0]),
    # a SUM with default 0 of two NULL days is NULL until a day without events enters
    (_window("sum", -6, 0, BIG, "sum", 0), {0: 1.0, 1: 2.0}, [None, None, 0.0, 0.0]),
    # lifetime first_value: NULL days, then the first day without events gives the default
    ({"data_type": "NUMBER", "lifetime_property": {"merge_function": "first_value", "source_event_property": {
        "source_event": "events", "select": BIG, "aggregate_function": "max", "default_value": 0}}},
     {0: 1.0, 1: 2.0}, [None, None, 0.0, 0.0]),
    # the registration day holds the default (no shift of its own): the window of the
    # day after sees it
    (_window("sum", -2, -1, "{v}", "sum", 0), {0: 0.0}, [None, 0.0, 0.0, 0.0]),
    # ... -to days later: the only offset by which the registration day moves a window
    (_window("sum", -4, -2, "{v}", "sum", 0), {0: 0.0}, [None, None, 0.0, 0.0, 0.0, 0.0]),
    (_window("max", -5, -3, "{v}", "max", 5), {0: 5.0}, [None, None, None, 5.0, 5.0, 5.0, 5.0]),
    # "had an event" (1) against a default that beats it: the frame of day 6 holds a stored
    # row of its own only, and a day without events that beats it
    (_window("max", -1, 0, "1", "none", 5), {0: 1.0, 5: 1.0}, [1.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]),
    # a count of "had an event" days, with and without days that exist in the frame
    (_window("sum", -1, 0, "1", "none", 0), {0: 1.0, 5: 1.0}, [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0]),
    (_window("sum", -3, -1, "1", "none", 0), {0: 1.0, 5: 1.0}, [None, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0]),
    # a window ending before the day: each row stores its next-day value, its change days
    # right after a stored day (1, 5, 6) are not stored
    (_window("sum", -3, -1, "1", "none", 0), {0: 1.0, 4: 1.0, 5: 1.0},
     [None, 1.0, 1.0, 1.0, 0.0, 1.0, 2.0, 2.0, 1.0, 0.0]),
    # MAX and MIN of "had an event" against a default 0 it beats: read from the frame's sum
    (_window("max", -1, 0, "1", "none", 0), {0: 1.0, 5: 1.0}, [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0]),
    (_window("max", -3, -1, "1", "none", 0), {0: 1.0, 5: 1.0}, [None, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0]),
    (_window("min", -1, 0, "-1", "none", 0), {0: 1.0, 5: 1.0}, [-1.0, -1.0, 0.0, 0.0, 0.0, -1.0, -1.0]),
    # ... and against one it does not beat: the days without events decide
    (_window("max", -1, 0, "-1", "none", 0), {0: 1.0, 5: 1.0}, [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
])
def test_a_day_whose_value_the_default_can_change_stores_the_days_next_to_its_gap(tmp_path, prop, events, want) -> None:
    """Values worked out by hand (SEMANTICS 5.4-5.6: the window's days that exist, days
    without events at the default). User u1 registers on day 1 with events on the days
    ``events`` names (day index: v), u2 keeps the model running to the last day; the days
    where u1's value changes are no shift of another day with events and only the rule
    under test stores them (or, for "had an event" sources, decides them without counting
    the frame's days)."""
    from test_engine_regressions import at, tiny_project

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(len(want))]
    rows = [("u1", at(days[i], 9), "ios", v) for i, v in sorted(events.items())]
    rows += [("u2", at(days[0], 9), "web", 9.0), ("u2", at(days[-1], 9), "web", 9.0)]
    project = tiny_project(tmp_path, rows, {"w": prop})
    assert project.validate(dry_run=False).errors == []
    project.refresh(origin="test")
    got = project.property_values("w").filter(pl.col("entity_id") == "u1").sort("date")
    assert got["date"].to_list() == days
    assert got["value"].to_list() == want


def test_a_window_ending_before_the_day_stores_no_day_that_follows_a_stored_one(tmp_path) -> None:
    """The case above by hand: "had an event" days 0, 4 and 5 in a window of -3 .. -1. It
    changes on the day after each of them (1, 5, 6: it enters; the day before is a day with
    events) and 4 days after (4, 8, 9: it leaves; no shift of 3 days is stored for the
    source). With next-day values the rows are the days with events and the days it leaves;
    without them, every change day. Each row's next-day value is the window's value on the
    next day in the list of values above."""
    from test_engine_regressions import at, tiny_project

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    rows = [("u1", at(days[i], 9), "ios", 1.0) for i in (0, 4, 5)]
    rows += [("u2", at(days[0], 9), "web", 9.0), ("u2", at(days[-1], 9), "web", 9.0)]
    project = tiny_project(tmp_path, rows, {"w": _window("sum", -3, -1, "1", "none", 0)})
    resolved = project.resolved()
    executor = warehouse_executor(tmp_path / "warehouse.duckdb", resolved)
    try:
        builder = ModelQueryBuilder(resolved)
        stored = {}
        for next_day in (True, False):
            frame = executor.frame(render(builder.build(ModelRequest(["w"], days[0], days[-1], next_day=next_day))))
            stored[next_day] = frame.filter(pl.col("entity_id") == "u1").sort("date")
    finally:
        executor.close()
    index = {day: i for i, day in enumerate(days)}
    assert [index[d] for d in stored[True]["date"]] == [0, 4, 5, 8, 9]
    assert stored[True]["__next_w"].to_list() == [1.0, 1.0, 2.0, 0.0, 0.0]
    assert [index[d] for d in stored[False]["date"]] == [0, 1, 4, 5, 6, 8, 9]
    assert "__next_w" not in stored[False].columns
