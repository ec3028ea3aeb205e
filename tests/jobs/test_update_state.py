"""An update continues from per-user state (the stored users, the activity state, the
stored days before the first recomputed day), never from the event history.

The check is independent of how the engine reads: the events before the update's read
window are deleted from the warehouse, and the update must still give what a refresh of
the original (complete) warehouse gives. An update that read the registration or activity
history would lose the deleted users or their last activity days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from jobs_support import DEMO_TABLES, WAREHOUSE, copy_project, differing_days, partitions, same, table_frame

from asemic_core.jobs import user_state
from asemic_core.project import Project
from asemic_core.sql.sparse import layout_of
from asemic_core.storage.store import USER_STATE, USERS

DEMO_LOOKBACK = 3  # the demo config's lookback_days


def _delete_before(root: Path, day: dt.date) -> dict[str, int]:
    """Delete every event before ``day``; the rows deleted per table."""
    deleted = {}
    with duckdb.connect(str(root / WAREHOUSE)) as con:
        for table in DEMO_TABLES:
            deleted[table] = con.execute(f"SELECT count(*) FROM game.{table} WHERE event_date < ?", [day]).fetchone()[0]
            con.execute(f"DELETE FROM game.{table} WHERE event_date < ?", [day])
    return deleted


@pytest.mark.parametrize("limit", [user_state.USERS_FILES, 1], ids=["append", "compact"])
def test_an_update_reads_no_event_before_its_window(limit: int, demo_states, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """(``compact``: the users table is rewritten from the stored one instead of appended to.)"""
    monkeypatch.setattr(user_state, "USERS_FILES", limit)
    root = copy_project(demo_states.behind, tmp_path / "behind")
    project = Project(root)
    resolved = project.resolved()
    assert resolved.entity.model_settings.lookback_days == DEMO_LOOKBACK
    watermark = dt.date.fromisoformat(project.model_store(readonly=True).watermark())
    first = watermark + dt.timedelta(days=1 - DEMO_LOOKBACK)  # the first recomputed day
    # The spine's days come from the days with events up to the widest window's shift before
    # the first recomputed day (a day with events leaves a 28-day window 28 days later).
    layout = layout_of(resolved, [p.id for p in resolved.properties.values() if not p.is_base])
    assert layout.sparse and max(layout.shifts) == 28
    cutoff = first - dt.timedelta(days=max(layout.shifts))
    deleted = _delete_before(root, cutoff)
    assert deleted["registrations"] > 1000 and deleted["sessions"] > 5000, deleted  # most users, their early days

    project.update(origin="test")

    assert differing_days(partitions(root), partitions(demo_states.clean)) == []
    assert same(table_frame(root, USERS), table_frame(demo_states.clean, USERS), exact=True)
    files = len(project.model_store(readonly=True).snapshot(USERS).files)
    assert files == (2 if limit > 1 else 1)  # the refresh's file and the added users', or one rewritten file


def _last_activity(root: Path, through: dt.date) -> pl.DataFrame:
    """Every entity's last activity day (sessions: the demo's activity events) through ``through``."""
    with duckdb.connect(str(root / WAREHOUSE), read_only=True) as con:
        return con.sql("SELECT user_id AS entity_id, max(event_date) AS last_active_date FROM game.sessions "
                       "WHERE event_date <= ? GROUP BY ALL ORDER BY 1", params=[through]).pl()


def test_every_job_leaves_the_activity_state_of_its_watermark(demo_states, tmp_path: Path) -> None:
    """The state holds each entity's last activity through watermark - lookback_days (the
    demo's windows look back only), after a refresh and after an update."""
    for root, label in ((copy_project(demo_states.behind, tmp_path / "behind"), "refresh"),
                        (copy_project(demo_states.behind, tmp_path / "updated"), "update")):
        if label == "update":
            Project(root).update(origin="test")
        watermark = dt.date.fromisoformat(Project(root).model_store(readonly=True).watermark())
        through = watermark - dt.timedelta(days=DEMO_LOOKBACK)
        state = table_frame(root, USER_STATE)
        assert set(state["state_day"].to_list()) == {through}, label
        entities = state.filter(pl.col("entity_id").is_not_null()).select("entity_id", "last_active_date")
        expected = _last_activity(root, through)
        assert expected.height > 1000
        assert same(entities.sort("entity_id"), expected, exact=True), label


def test_an_update_of_a_model_without_state_reads_the_history_once(demo_states, tmp_path: Path) -> None:
    """A model written before the state table existed (its version has no user_state): the
    update reads the activity history, gives the refresh's values and leaves a state."""
    root = copy_project(demo_states.behind, tmp_path / "behind")
    store = Project(root).model_store()
    work = store.begin("older-model")
    del work.tables[USER_STATE]
    store.publish(work, "restore")
    assert USER_STATE not in store.current().tables

    Project(root).update(origin="test")

    assert differing_days(partitions(root), partitions(demo_states.clean)) == []
    assert same(table_frame(root, USERS), table_frame(demo_states.clean, USERS), exact=True)
    assert USER_STATE in Project(root).model_store(readonly=True).current().tables
