"""Incomplete buckets, immature cohort days and group-by properties that change over time."""

from __future__ import annotations

import datetime as dt

from asemic_core.query.explore_marks import PointMark, changing_groups, immature_cohort_days, incomplete_buckets

D = dt.date


def test_partial_weeks_at_both_ends_of_the_range():
    # Range Wed 2026-01-07 .. Tue 2026-01-20; weeks start on Monday.
    starts = [D(2026, 1, 5), D(2026, 1, 12), D(2026, 1, 19)]
    marks = incomplete_buckets(starts, "week", D(2026, 1, 7), D(2026, 1, 20))
    assert marks == {
        D(2026, 1, 5): PointMark(5, 7, "partial week: 5 of 7 days (2026-01-07 .. 2026-01-11)"),
        D(2026, 1, 19): PointMark(2, 7, "partial week: 2 of 7 days (2026-01-19 .. 2026-01-20)"),
    }
    assert incomplete_buckets(starts, "day", D(2026, 1, 7), D(2026, 1, 20)) == {}


def test_the_model_end_cuts_the_last_month():
    starts = [D(2026, 1, 1), D(2026, 2, 1)]
    marks = incomplete_buckets(starts, "month", D(2026, 1, 1), D(2026, 2, 28), D(2026, 1, 1), D(2026, 2, 14))
    assert list(marks) == [D(2026, 2, 1)] and (marks[D(2026, 2, 1)].covered, marks[D(2026, 2, 1)].total) == (14, 28)


def test_cohort_days_only_early_cohorts_reached():
    # Registrations 2026-01-01 .. 2026-01-10 (10 days); the model ends 2026-01-15.
    marks = immature_cohort_days([0, 1, 3, 5, 7, 14, 30], D(2026, 1, 1), D(2026, 1, 10), D(2026, 1, 15))
    assert {day: (m.covered, m.total) for day, m in marks.items()} == {7: (8, 10), 14: (1, 10), 30: (0, 10)}
    assert marks[7].note == "immature: 8 of 10 registration days have reached day 7 (registered through 2026-01-08)"


def test_changing_group_properties(studio_source):
    source, first, last = studio_source
    changes = changing_groups(source, ["is_payer_lifetime", "country", "registration_date", "activity_segment"],
                              "date", first, last)
    # Independent count: users with more than one value (NULL included) over the range.
    frame = source.con.sql(
        f"SELECT entity_id, count(DISTINCT activity_segment) + (count(*) > count(activity_segment))::INT AS n "
        f"FROM ({source.relation_sql(source.plan(['activity_segment'], first, last))}) "
        f"WHERE date BETWEEN DATE '{first}' AND DATE '{last}' GROUP BY entity_id").pl()
    assert changes["activity_segment"] == ((frame["n"] > 1).sum(), frame.height)
    assert "country" not in changes and "registration_date" not in changes
