"""The one-line summary of a numeric property preview's values."""

from __future__ import annotations

import polars as pl

from asemic_core.editing.preview_shaping import value_summary


def test_the_value_summary_of_a_numeric_preview() -> None:
    values = pl.DataFrame({"value": [0.0, 0.0125, None, 1.5, 0.25]})
    assert value_summary(values) == "Values from 0 to 1.5; 3 of 5 user-days are neither NULL nor 0."
    assert value_summary(pl.DataFrame({"value": [3, 1200]})) == \
        "Values from 3 to 1,200; 2 of 2 user-days are neither NULL nor 0."
    assert value_summary(pl.DataFrame({"value": ["a", "b"]})) is None
    assert value_summary(pl.DataFrame({"value": [None, None]}, schema={"value": pl.Float64})) is None
