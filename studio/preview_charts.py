"""Altair charts of draft previews (draft next to the saved definition)."""

from __future__ import annotations

import altair as alt
import polars as pl

from studio.chart_axes import axis_title, date_axis

COLORS = {"draft": "#ff4b4b", "saved": "#9aa5b1"}
DASHES = {"draft": [1, 0], "saved": [5, 4]}


def _scale(frame: pl.DataFrame) -> alt.Scale:
    present = [d for d in COLORS if d in set(frame["definition"].to_list())]
    return alt.Scale(domain=present, range=[COLORS[d] for d in present])


def distribution_chart(dist: pl.DataFrame, title: str = "") -> alt.Chart:
    """Grouped bars: user-days per value (or bin), draft next to saved."""
    order = dist.select("bucket", "order").unique().sort("order")["bucket"].to_list()
    both = dist.select(pl.col("definition").n_unique()).item() > 1
    bars = alt.Chart(dist).mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2)
    encoding = dict(
        x=alt.X("bucket:N", sort=order, title=axis_title(title or "value"),
                axis=alt.Axis(labelAngle=-40 if len(order) > 8 else 0, labelLimit=120)),
        y=alt.Y("user_days:Q", title="user-days"),
        color=alt.Color("definition:N", scale=_scale(dist), title=None,
                        legend=alt.Legend(orient="top", direction="horizontal")),
        tooltip=[alt.Tooltip("definition:N", title="definition"), alt.Tooltip("bucket:N", title="value"),
                 alt.Tooltip("user_days:Q", title="user-days", format=","),
                 alt.Tooltip("share:Q", title="share", format=".1%")],
    )
    if both:
        encoding["xOffset"] = alt.XOffset("definition:N", sort=["draft", "saved"])
    return bars.encode(**encoding).properties(height=300)


def kpi_chart(long: pl.DataFrame, axis: str, unit_symbol: str | None = None) -> alt.Chart:
    """Lines over the axis: the draft (solid) and the saved definition (dashed)."""
    axis_type = "T" if axis == "date" else "Q"
    present = [d for d in COLORS if d in set(long["definition"].to_list())]
    fmt = ",.4~f"
    title = f"value ({unit_symbol.strip()})" if unit_symbol and unit_symbol.strip() else "value"
    if axis == "date":
        x = alt.X("date:T", title="date", scale=alt.Scale(type="utc"),
                  axis=date_axis("day", long["date"].unique().to_list()))
    else:
        x = alt.X("cohort_day:Q", title="cohort day", axis=alt.Axis(labelAngle=0, tickMinStep=1))
    base = alt.Chart(long).encode(
        x=x,
        y=alt.Y("value:Q", title=axis_title(title, 300)),
        color=alt.Color("definition:N", scale=_scale(long), title=None,
                        legend=alt.Legend(orient="top", direction="horizontal")),
        strokeDash=alt.StrokeDash("definition:N", legend=None,
                                  scale=alt.Scale(domain=present, range=[DASHES[d] for d in present])),
        tooltip=[alt.Tooltip(f"{axis}:{axis_type}", title=axis.replace("_", " ")),
                 alt.Tooltip("definition:N", title="definition"), alt.Tooltip("value:Q", title="value", format=fmt)],
    )
    return (base.mark_line(strokeWidth=2) + base.mark_point(filled=True, size=30)).properties(height=300)
