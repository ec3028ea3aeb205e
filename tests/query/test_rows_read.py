"""Which stored rows a KPI query derives from: the population of its aggregations
(SEMANTICS 6) decides how little of the logical model has to be derived."""

from __future__ import annotations

import pytest

from asemic_core.query.kpi import rows_read
from asemic_core.query.model_source import CounterDays


@pytest.mark.parametrize(("kpi", "axis", "rows"), [
    ("dau", "date", "active"),  # an event property: the user's active days, all stored
    ("arpdau", "date", "active"),
    ("mau", "date", "recent"),  # a sliding window: days within active_days of the last activity
    ("stickiness", "date", "recent"),
    ("registrations", "date", CounterDays("cohort_day", 0)),  # where cohort_day = 0: registration days
    ("retention_d7", "date", CounterDays("cohort_day", 7)),
    ("retention_d28", "date", CounterDays("cohort_day", 28)),
    ("mau_lost", "date", "all"),  # a computed property of a day counter: every user, every day
    ("retention", "cohort_day", "cohort"),
])
def test_a_kpi_reads_the_rows_its_population_needs(demo, kpi, axis, rows) -> None:
    assert rows_read(demo.resolved(), kpi, axis) == rows

