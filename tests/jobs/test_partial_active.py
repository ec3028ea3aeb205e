"""A partial update of an event property whose values fall on activity days writes only
that column, on the activity rows, into a column table of its own (jobs/partial_active.py;
the daily table is kept); every column then holds what a fresh refresh of the edited
config holds. Edits that can change other days (a purchase on a day without a session, a
changed default) take the general path and rewrite both parts of the daily table."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from jobs_support import change_property, column_values, make_demo
from polars.testing import assert_frame_equal

from asemic_core.project import Project
from asemic_core.query.kpi import KpiRequest
from asemic_core.storage.store import DAILY


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = make_demo(tmp_path_factory.mktemp("partial-active") / "demo", users=400, days=45)
    Project(root).refresh(origin="test")
    return root


@pytest.fixture(scope="module")
def purchase_without_session(tmp_path_factory):
    """The demo with one purchase of 0 USD on a day its user has no session (in the demo
    every event falls on a session day), refreshed: revenue_on_day is its default there."""
    root = make_demo(tmp_path_factory.mktemp("partial-active-off") / "demo", users=400, days=45)
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        user, day = con.sql(
            "SELECT r.user_id, d.day FROM game.registrations r, "
            "(SELECT DISTINCT event_date AS day FROM game.sessions) d "
            "WHERE d.day > r.event_date AND NOT EXISTS (SELECT 1 FROM game.sessions s "
            "WHERE s.user_id = r.user_id AND s.event_date = d.day) ORDER BY r.user_id, d.day LIMIT 1").fetchall()[0]
        con.execute("INSERT INTO game.purchases SELECT ?, CAST(? AS TIMESTAMP) + INTERVAL 12 HOUR, ?, 0.0, 'gems', "
                    "'t-off-session', CAST(? AS TIMESTAMP) + INTERVAL 13 HOUR", [user, day, day, day])
    Project(root).refresh(origin="test")
    return root


def _column_tables(project: Project) -> dict[str, tuple]:
    """The published version's column tables: the columns each holds, its stored columns and rows."""
    snapshot = project.model_store(readonly=True).snapshot(DAILY)
    return {o.snapshot.name: (o.columns, o.snapshot.columns, o.snapshot.rows) for o in snapshot.overrides}


def _activity_rows(project: Project) -> int:
    return sum(f.rows for f in project.model_store(readonly=True).snapshot(DAILY).files if f.active)


def _files(project: Project) -> dict[bool, set[str]]:
    snapshot = project.model_store(readonly=True).snapshot(DAILY)
    return {part: {f.path for f in snapshot.files if f.active is part} for part in (True, False)}


@pytest.mark.parametrize(("demo", "prop", "kind", "fields", "activity_part_only"), [
    ("refreshed", "dau_active", "event_property", {"select": "2"}, True),  # over entity_activity
    # on session days (twice the count: an INTEGER, as declared; a sum of amounts is refused)
    ("refreshed", "purchases_on_day", "event_property", {"select": "2", "aggregate_function": "sum"}, True),
    ("refreshed", "revenue_on_day", "event_property", {"select": "{amount_usd} + 1"}, True),
    # the edit gives the purchase off the session days a value: the other part changes
    ("purchase_without_session", "revenue_on_day", "event_property", {"select": "{amount_usd} + 1"}, False),
    ("refreshed", "dau_active", "event_property", {"default_value": 1}, False),  # the other part changes
])
def test_an_activity_property_rewrites_only_the_activity_part(request, tmp_path, demo, prop, kind, fields,
                                                              activity_part_only) -> None:
    root = tmp_path / "edited"
    shutil.copytree(request.getfixturevalue(demo), root)
    change_property(root, prop, {kind: fields})
    project = Project(root)
    before = _files(project)
    result = project.update(properties=[prop], origin="test")
    after = _files(project)
    assert ("compute_and_write_activity_part" in result.phases) is activity_part_only
    tables = _column_tables(project)
    if activity_part_only:  # the daily table is kept whole; the column is in a table of its own
        assert after == before
        assert list(tables.values()) == [((prop,), ("date", "__row", prop), _activity_rows(project))]
    else:
        assert not (after[True] & before[True]) and not (after[False] & before[False]) and not tables

    fresh_root = tmp_path / "fresh"
    shutil.copytree(root, fresh_root, ignore=shutil.ignore_patterns(".asemic"))
    fresh = Project(fresh_root)
    fresh.refresh(origin="test")
    got, want = column_values(project), column_values(fresh)
    assert set(got) == set(want)
    for column in want:
        assert_frame_equal(got[column], want[column], rel_tol=1e-9, abs_tol=1e-12)
    status = {c.name: c.state for c in project.status().columns}
    assert status[prop] == "fresh"


def test_update_kpi_dau_after_an_edit_gives_the_edited_values(refreshed, tmp_path) -> None:
    root = tmp_path / "edited"
    shutil.copytree(refreshed, root)
    change_property(root, "dau_active", {"event_property": {"select": "3"}})
    project = Project(root)
    before = _files(project)
    project.update(kpis=["dau"], origin="test")
    assert _files(project) == before and len(_column_tables(project)) == 1
    points = project.kpi_query(KpiRequest("dau")).points
    # every active user counts 3 now: three times the users with a session that day
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        sessions = dict(con.sql("SELECT s.event_date, count(DISTINCT s.user_id) FROM game.sessions s JOIN "
                                "game.registrations r ON r.user_id = s.user_id AND r.event_date <= s.event_date "
                                "GROUP BY 1").fetchall())
    assert {p["date"]: p["value"] for p in points.to_dicts()} == {d: 3 * n for d, n in sessions.items()}
