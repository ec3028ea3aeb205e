"""Which computed properties are step functions of days_since_last_active (sql/steps.py),
and their values on each range of the counter, worked out by hand from the definitions."""

from __future__ import annotations

import shutil

import pytest

from asemic_core.project import Project
from asemic_core.sql.steps import Steps, steps

PROPERTIES = {
    "lost_28": ("INTEGER", "IF({days_since_last_active} = 28, 1, 0)"),
    "churned": ("BOOLEAN", "COALESCE({days_since_last_active}, 9999) >= 7"),
    "bands": ("INTEGER", "CASE WHEN {days_since_last_active} <= 2 THEN 0 WHEN {days_since_last_active} BETWEEN 3 AND 9 "
                         "THEN 1 ELSE 2 END"),
    "listed": ("INTEGER", "IF({days_since_last_active} IN (1, 5), 1, 0)"),
    "negated": ("BOOLEAN", "NOT ({days_since_last_active} > 3) OR {days_since_last_active} IS NULL"),
    "arithmetic": ("INTEGER", "{days_since_last_active} * 2"),
    "modulo": ("INTEGER", "IF({days_since_last_active} % 7 = 0, 1, 0)"),
    "compared_columns": ("INTEGER", "IF({days_since_last_active} > {cohort_day}, 1, 0)"),
    "fraction": ("INTEGER", "IF({days_since_last_active} > 2.5, 1, 0)"),
}


@pytest.fixture(scope="module")
def resolved(demo_template, tmp_path_factory):
    root = tmp_path_factory.mktemp("steps") / "project"
    shutil.copytree(demo_template, root)
    lines = ["properties:"]
    for name, (data_type, select) in PROPERTIES.items():
        lines += [f"  {name}:", f"    data_type: {data_type}", "    computed_property:", f"      select: \"{select}\""]
    (root / "userentity" / "properties" / "steps_test.yml").write_text("\n".join(lines) + "\n")
    return Project(root).resolved()


@pytest.mark.parametrize(("name", "expected"), [
    ("lost_28", Steps((27, 28), (0, 1, 0), 0)),
    ("mau_lost", Steps((27, 28), (0, 1, 0), 0)),  # the starter library's, 28-day window
    ("churned", Steps((6,), (False, True), True)),
    ("bands", Steps((2, 9), (0, 1, 2), 2)),  # NULL: no branch holds, ELSE
    ("listed", Steps((0, 1, 4, 5), (0, 1, 0, 1, 0), 0)),
    ("negated", Steps((3,), (True, False), True)),
])
def test_step_functions_and_their_ranges(resolved, name, expected) -> None:
    assert steps(resolved, name) == expected


@pytest.mark.parametrize("name", ["arithmetic", "modulo", "compared_columns", "fraction", "dau_active", "mau_active",
                                  "is_reactivated"])
def test_other_properties_are_not_step_functions(resolved, name) -> None:
    assert steps(resolved, name) is None


def test_the_value_through_a_bound(resolved) -> None:
    found = steps(resolved, "bands")
    assert [found.value_through(b) for b in (0, 2, 3, 9, 10)] == [0, 0, 1, 1, 2]
    assert found.value_through(None) == 2
