"""Windows that end before the day store their next-day value (sql/sparse.py ``NEXT_DAY``)
instead of the change days that follow a stored day; a table written before those columns
existed stores every change day and keeps doing so until a refresh, and both read the same.

The demo's ``days_active_previous_7_days`` (-7 .. -1) is such a window."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml
from jobs_support import column_values, partitions, same

from asemic_core.jobs import refresh as refresh_job
from asemic_core.project import Project
from asemic_core.sql.model_sql import ModelRequest
from asemic_core.storage.store import DAILY

WINDOW = "days_active_previous_7_days"
NEXT = f"__next_{WINDOW}"


def _end_date(root: Path, day: dt.date | None) -> None:
    path = root / "userentity" / "config.yml"
    config = yaml.safe_load(path.read_text())
    settings = config.setdefault("model_settings", {})
    if day is None:
        settings.pop("end_date", None)
    else:
        settings["end_date"] = day
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _daily(root: Path):
    project = Project(root)
    store = project.model_store(readonly=True)
    return store.snapshot(DAILY, store.current())


def _every_change_day(*args, **kwargs) -> ModelRequest:
    """The refresh's request as a refresh made it before next-day values existed."""
    return ModelRequest(*args, **{**kwargs, "next_day": False})


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("next-day") / "demo"
    done = subprocess.run([sys.executable, "-m", "asemic_core.cli", "demo", "init", str(root), "--users", "200",
                           "--days", "45"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return root


def test_a_table_without_next_day_values_keeps_every_change_day_until_a_refresh(demo, tmp_path, monkeypatch) -> None:
    before, now = tmp_path / "before", tmp_path / "now"
    shutil.copytree(demo, before)
    shutil.copytree(demo, now)
    Project(now).refresh(origin="test")
    daily_now = _daily(now)
    assert NEXT in daily_now.columns
    last = dt.date.fromisoformat(Project(now).model_store(readonly=True).watermark())

    # a model written with every change day, three days behind
    _end_date(before, last - dt.timedelta(days=3))
    with monkeypatch.context() as patched:
        patched.setattr(refresh_job, "ModelRequest", _every_change_day)
        Project(before).refresh(origin="test")
    assert NEXT not in _daily(before).columns
    # the update keeps the table's layout: it stores every change day of the new days
    _end_date(before, None)
    Project(before).update(origin="test")
    daily_before = _daily(before)
    assert NEXT not in daily_before.columns
    assert daily_before.rows > daily_now.rows
    # the same logical model (the window and what reads it: mau_lost, is_reactivated)
    old, new = column_values(Project(before)), column_values(Project(now))
    assert new[WINDOW]["value"].drop_nulls().n_unique() > 3
    for name in new:
        assert same(old[name], new[name]), name
    # a refresh writes the next-day values: the same rows as the other model's
    Project(before).refresh(origin="test")
    assert NEXT in _daily(before).columns
    rewritten, expected = partitions(before), partitions(now)
    assert rewritten.keys() == expected.keys()
    assert all(same(rewritten[d], expected[d]) for d in expected)


def test_an_update_and_a_rewind_write_next_day_values_as_a_refresh_does(demo, tmp_path) -> None:
    updated, fresh = tmp_path / "updated", tmp_path / "fresh"
    shutil.copytree(demo, updated)
    shutil.copytree(demo, fresh)
    Project(fresh).refresh(origin="test")
    last = dt.date.fromisoformat(Project(fresh).model_store(readonly=True).watermark())
    _end_date(updated, last - dt.timedelta(days=4))
    Project(updated).refresh(origin="test")
    _end_date(updated, None)
    Project(updated).update(origin="test")
    got, want = partitions(updated), partitions(fresh)
    assert got.keys() == want.keys() and all(same(got[d], want[d]) for d in want)
    Project(updated).rewind(last - dt.timedelta(days=10), last - dt.timedelta(days=8), origin="test")
    got = partitions(updated)
    assert got.keys() == want.keys() and all(same(got[d], want[d]) for d in want)


HAD_EVENT = {"data_type": "INTEGER", "event_property": {"source_event": "events", "select": "1",
                                                       "aggregate_function": "none", "default_value": 0}}


def _had_event(low: int, high: int) -> dict:
    """A count of the days with events over ``low`` .. ``high`` (both windows read one source)."""
    return {"data_type": "INTEGER", "sliding_window_property": {
        "source_property": "had", "window_function": "sum", "relative_days_from": low, "relative_days_to": high}}


def test_a_partial_update_that_adds_days_writes_their_next_day_values(tmp_path) -> None:
    """Worked by hand. u1 has events on days 0 and 3 of 20; ``before`` counts them over
    -7 .. -1. Alone, it stores the days it leaves (8 and 11: no shift of 7 days is stored).
    A new window over -6 .. 0 leaves on days 7 and 10: the partial update adding it adds
    those days, and ``before`` no longer needs 8 and 11 (they follow a stored day). On day
    7 the next-day value is ``before`` on day 8 (1), not the value carried since day 3 (2):
    a rewind of day 8 then derives day 8 from it."""
    from test_engine_regressions import at, tiny_project

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(20)]
    rows = [("u1", at(days[i], 9), "ios", 1.0) for i in (0, 3)]
    rows += [("u2", at(days[0], 9), "web", 9.0), ("u2", at(days[-1], 9), "web", 9.0)]
    root = tmp_path / "p"
    project = tiny_project(root, rows, {"had": HAD_EVENT, "before": _had_event(-7, -1)})
    project.refresh(origin="test")
    want = [None, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1] + [0] * 9

    def values(name: str) -> list:
        got = Project(root).property_values(name).filter(pl.col("entity_id") == "u1").sort("date")
        assert got["date"].to_list() == days
        return got["value"].to_list()

    assert values("before") == want
    path = root / "userentity" / "properties" / "p.yml"
    path.write_text(yaml.safe_dump({"properties": {"had": HAD_EVENT, "before": _had_event(-7, -1),
                                                   "week": _had_event(-6, 0)}}))
    Project(root).update(properties=["week"], origin="test")
    stored = partitions(root)
    u1_days = sorted(d for d, frame in stored.items() if "u1" in frame["entity_id"].to_list())
    assert {days[7].isoformat(), days[10].isoformat()} <= set(u1_days)
    Project(root).rewind(days[8], days[8], origin="test")
    assert days[8].isoformat() not in {d for d, frame in partitions(root).items() if "u1" in frame["entity_id"].to_list()}
    assert values("before") == want
    assert values("week") == [1, 1, 1, 2, 2, 2, 2, 1, 1, 1] + [0] * 10
