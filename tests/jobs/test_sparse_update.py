"""An update of a sparse config reads, of the stored days before its first recomputed day,
only what its days need (sql/sparse.py ``window_tail``: the rows whose window sources hold
something other than their gap value; each user's last row for lifetime values; the last
activity from the activity state and the prior activity, not from the stored rows).

Random configs (the generator of the engine's property tests, cut down to what the sparse
layout stores sparse: windows of every function over event properties with and without
defaults, lifetime values, fixed windows, activity from other tables than the windows
read): refreshed with the end date a few days back, then updated to the last day, then one day
rewound, the daily table must hold exactly the rows and values of a refresh to the last day."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from jobs_support import differing_days, partitions
from random_project import DAY, scenarios, write_project
from test_sparse_layout import WINDOW_KINDS, sparse_part

from asemic_core.errors import JobError
from asemic_core.project import Project

HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


@settings(max_examples=10, deadline=None, suppress_health_check=HEALTH)
@given(scenario=scenarios(), behind=st.integers(1, 4), lookback=st.integers(0, 3), rewound=st.integers(0, 5))
def test_an_update_and_a_rewind_of_a_sparse_config_give_the_refreshs_rows(scenario, behind: int, lookback: int,
                                                                          rewound: int) -> None:
    """(Then a rewind of a day ``rewound`` days before the end: it reads the activity
    history, not the state, and the same stored rows before its first day.)"""
    part = sparse_part(scenario)
    assume(any(p.kind in WINDOW_KINDS for p in part.props) and part.n_days > behind + 1)
    end = part.last_day
    first_end = end - behind * DAY
    note(f"refresh to {first_end}, update to {end}, lookback {lookback}")
    with tempfile.TemporaryDirectory(prefix="asemic-sparse-update-") as directory:
        updated = write_project(replace(part, model_settings={"end_date": first_end, "lookback_days": lookback}),
                                Path(directory) / "updated")
        fresh = write_project(replace(part, model_settings={"end_date": end, "lookback_days": lookback}),
                              Path(directory) / "fresh")
        try:
            Project(updated).refresh(origin="test")
        except JobError as err:  # every user may register after the first end date
            assume("is after the end date" not in str(err))
            raise
        (updated / "userentity" / "config.yml").write_text(yaml.safe_dump(
            replace(part, model_settings={"end_date": end, "lookback_days": lookback}).entity_yaml(), sort_keys=False))
        Project(updated).update(origin="test")
        Project(fresh).refresh(origin="test")
        expected = partitions(fresh)
        assert expected and differing_days(partitions(updated), expected) == []
        store = Project(updated).model_store(readonly=True)
        first_day, watermark = (dt.date.fromisoformat(d) for d in (store.first_day(), store.watermark()))
        day = max(watermark - rewound * DAY, first_day)
        Project(updated).rewind(day, day, origin="test")
        assert differing_days(partitions(updated), expected) == []
