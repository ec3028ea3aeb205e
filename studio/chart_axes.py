"""Axes every chart of the studio draws the same way: one date format per chart, chosen by
the grain of its points, and titles that fit along their axis.

Left alone, Vega-Lite labels a time axis with a format per tick ("2026", "Mon 05",
"February" on one axis) and draws a title longer than its axis past the chart's edge, where
it is cut off. A title is therefore broken into lines that fit the axis's length.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap

import altair as alt

# d3 time formats of a date axis's labels, by the grain of its points
TIME_FORMATS = {"day": "%b %d", "week": "%b %d", "month": "%b %Y", "quarter": "%b %Y", "year": "%Y"}
CHAR_PX = 7  # the width of an average character of an axis title (11 px sans-serif), rounded up
NARROW_PX = 320  # the width of a chart in half a column (two charts side by side)
MAX_TICKS = 16  # ticks an axis labels one by one at the most


def axis_title(text: str, length_px: int = NARROW_PX) -> str | list[str]:
    """``text`` as it fits along an axis of ``length_px`` pixels: one line when it fits, else
    lines (Vega-Lite draws a list as lines) broken at spaces, none longer than the axis."""
    width = max(12, length_px // CHAR_PX)
    if len(text) <= width:
        return text
    return textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False)


def date_axis(grain: str = "day", buckets: list[dt.date] | None = None, **kwargs) -> alt.Axis:
    """A date axis whose every label has the format of ``grain`` ("%b %d" for days and weeks,
    "%b %Y" for months and quarters, "%Y" for years), written horizontally.

    The ticks stand on the ``buckets`` (the dates of the points): every one while they are
    few, else every n-th at a grain coarser than a day. Vega's own ticks would fall every
    12 hours over a few days (each date labelled twice) and on Sundays over weeks that start
    on a Monday."""
    if buckets:
        days = sorted(buckets)
        if len(days) > MAX_TICKS and grain != "day":
            days = days[::math.ceil(len(days) / MAX_TICKS)]
        if len(days) <= MAX_TICKS:
            kwargs["values"] = [alt.DateTime(year=d.year, month=d.month, date=d.day, utc=True) for d in days]
    return alt.Axis(format=TIME_FORMATS[grain], labelAngle=0, labelOverlap=True, **kwargs)


def day_band_axis(**kwargs) -> alt.Axis:
    """The axis of bars, one per day, whose field holds ISO dates as text (an ordinal scale:
    a bar as wide as its day, even when there are only a few): labelled like a date axis."""
    return alt.Axis(labelExpr=f"utcFormat(toDate(datum.value), '{TIME_FORMATS['day']}')", labelAngle=0,
                    labelOverlap=True, **kwargs)
