"""Well-known names: the base properties every project has (SEMANTICS 4).

Code that treats one of them specially names it through these constants, so a reader can
find every special case with one search.
"""

from __future__ import annotations

DATE = "date"
ENTITY_ID = "entity_id"
REGISTRATION_DATE = "registration_date"
COHORT_DAY = "cohort_day"
COHORT_SIZE = "cohort_size"
LAST_ACTIVITY_DATE = "last_activity_date"
DAYS_SINCE_LAST_ACTIVE = "days_since_last_active"

# The key columns of every model row (not properties a job computes).
KEYS = (ENTITY_ID, DATE)
# Base properties computed from the activity table: the last active day carries forward.
ACTIVITY_BASED = frozenset({LAST_ACTIVITY_DATE, DAYS_SINCE_LAST_ACTIVE})
# Base properties computed from the registrations table.
REGISTRATION_BASED = frozenset({REGISTRATION_DATE, COHORT_DAY})
# What the base properties read among themselves.
BASE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    DATE: (), ENTITY_ID: (), REGISTRATION_DATE: (), COHORT_SIZE: (),
    COHORT_DAY: (REGISTRATION_DATE,), LAST_ACTIVITY_DATE: (), DAYS_SINCE_LAST_ACTIVE: (),
}
