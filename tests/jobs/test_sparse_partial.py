"""A partial update on the sparse layout (SEMANTICS 8): after editing a property, updating
only its columns gives every column the values a fresh refresh of the edited config gives,
whether the edit moves the days the model stores (a window's range) or not (a computed
property's formula)."""

from __future__ import annotations

import shutil

import pytest
from jobs_support import change_property, column_values, make_demo
from polars.testing import assert_frame_equal

from asemic_core.project import Project
from asemic_core.storage.store import DAILY


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = make_demo(tmp_path_factory.mktemp("partial") / "demo", users=400, days=45)
    Project(root).refresh(origin="test")
    return root


@pytest.mark.parametrize(("prop", "change", "moves_days"), [
    ("wau_active", {"sliding_window_property": {"relative_days_from": -9}}, True),
    ("is_reactivated", {"computed_property": {"select": "IF({dau_active} = 1 AND {cohort_day} > 3, 1, 0)"}}, False),
])
def test_a_partial_update_gives_a_fresh_refreshs_values(refreshed, tmp_path, prop, change, moves_days) -> None:
    root = tmp_path / "edited"
    shutil.copytree(refreshed, root)
    change_property(root, prop, change)
    project = Project(root)
    stored_before = project.model_store(readonly=True).snapshot(DAILY).rows
    project.update(properties=[prop], origin="test")
    stored_after = project.model_store(readonly=True).snapshot(DAILY).rows
    assert (stored_after > stored_before) is moves_days
    fresh_root = tmp_path / "fresh"
    shutil.copytree(root, fresh_root, ignore=shutil.ignore_patterns(".asemic"))
    fresh = Project(fresh_root)
    fresh.refresh(origin="test")
    got, want = column_values(project), column_values(fresh)
    assert set(got) == set(want) and prop in got
    for column in want:
        assert_frame_equal(got[column], want[column], rel_tol=1e-9, abs_tol=1e-12)
