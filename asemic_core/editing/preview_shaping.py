"""A draft's preview, shaped for the editors: distributions, example users, the impact
in words. Also previews templated KPI drafts (``retention_d{}``), one template value at
a time, which the plain preview cannot address by the id as written."""

from __future__ import annotations

import math

import polars as pl

from asemic_core.config.models import Kpi
from asemic_core.query import draft_preview as _preview
from asemic_core.query.draft_preview import Draft, PreviewResult
from asemic_core.semantic.resolve import resolve

NUMERIC_DTYPES = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64,
                  pl.Float32, pl.Float64)
MAX_CATEGORIES = 20
NULL_LABEL = "(null)"


def run_preview(project, draft: Draft, sample_users: int, days: int, source, template_value=None) -> PreviewResult:
    """``project.preview`` for every draft, templated KPIs included."""
    if draft.kind == "kpi" and isinstance(draft.model, Kpi) and draft.model.template is not None:
        return _templated_kpi_preview(project, draft, sample_users, days, source, template_value)
    return project.preview(draft, sample_users=sample_users, days=days, source=source)


def template_choices(project, draft: Draft) -> list:
    """Template values a templated KPI draft expands to (in the draft's project)."""
    from asemic_core.semantic.resolve_kpis import template_values

    files = project.files()
    return template_values(draft.model, files.entity.model if files.entity else None)


def _templated_kpi_preview(project, draft: Draft, sample_users, days, source, template_value) -> PreviewResult:
    files = project.files()
    result = PreviewResult(draft, _preview.draft_issues(files, draft), is_new=draft.id not in files.kpis)
    if not result.ok:
        return result
    draft_project = resolve(_preview.draft_files(files, draft))
    expanded = [k for k in draft_project.kpis.values() if k.template_id == draft.id]
    if not expanded:
        result.notes.append("the template has no values: nothing to preview")
        return result
    chosen = next((k for k in expanded if str(k.template_value) == str(template_value)), expanded[0])
    user_filter, result.sample_users, result.total_users = _preview._sample(source, sample_users)
    result.day_from, result.day_to = _preview._window(source, days)
    has_saved = chosen.id in source.resolved.kpis
    result.is_new = not has_saved
    result.points = _preview._kpi_points(source, draft_project, Draft("kpi", chosen.id, draft.model, draft.file),
                                         user_filter, result.day_from, result.day_to, has_saved)
    if has_saved:
        result.changed = result.points.filter(~pl.col("value").eq_missing(pl.col("saved_value"))).height
    result.notes.append(f"showing {chosen.id} (template value {chosen.template_value})")
    return result


# --------------------------------------------------------------------- properties


def _is_numeric(frame: pl.DataFrame, column: str) -> bool:
    return isinstance(frame.schema[column], NUMERIC_DTYPES) or frame.schema[column] in NUMERIC_DTYPES


def _long(values: pl.DataFrame, with_saved: bool) -> pl.DataFrame:
    parts = [values.select(pl.lit("draft").alias("definition"), pl.col("value"))]
    if with_saved:
        parts.append(values.select(pl.lit("saved").alias("definition"), pl.col("saved_value").alias("value")))
    return pl.concat(parts, how="vertical_relaxed")


def _binned(present: pl.DataFrame, bins: int) -> pl.DataFrame:
    low = present.select(pl.col("value").min()).item()
    high = present.select(pl.col("value").max()).item()
    integral = present.schema["value"] not in (pl.Float32, pl.Float64)
    width = max(1, math.ceil((high - low + 1) / bins)) if integral else ((high - low) / bins or 1.0)

    def label(i: int) -> str:
        start = low + i * width
        if integral:
            end = start + width - 1
            return f"{start:g}" if end == start else f"{start:g}–{end:g}"
        return f"{start:.3g}–{start + width:.3g}"

    index = ((pl.col("value") - low) / width).floor().clip(0, bins - 1).cast(pl.Int64)
    counted = present.with_columns(index.alias("order")).group_by("definition", "order").len("user_days")
    return counted.with_columns(pl.col("order").map_elements(label, return_dtype=pl.String).alias("bucket"))


def _label(column: str, dtype) -> pl.Expr:
    if dtype in (pl.Float32, pl.Float64):  # 24.98, not 24.979999999997
        return pl.col(column).map_elements(lambda v: f"{v:.6g}", return_dtype=pl.String)
    return pl.col(column).cast(pl.String)


def _categories(present: pl.DataFrame) -> pl.DataFrame:
    labelled = present.with_columns(_label("value", present.schema["value"]).alias("bucket"))
    order = {b: i for i, b in enumerate(labelled.select("value", "bucket").unique().sort("value")["bucket"])}
    counted = labelled.group_by("definition", "bucket").len("user_days")
    top = set(counted.group_by("bucket").agg(pl.col("user_days").sum())
              .sort("user_days", "bucket", descending=[True, False]).head(MAX_CATEGORIES)["bucket"])
    other = len(order)
    return (counted.with_columns(pl.when(pl.col("bucket").is_in(list(top))).then(pl.col("bucket"))
                                 .otherwise(pl.lit("(other)")).alias("bucket"))
            .group_by("definition", "bucket").agg(pl.col("user_days").sum())
            .with_columns(pl.col("bucket").replace_strict(order, default=other, return_dtype=pl.Int64).alias("order")))


def _empty(column: str = "value") -> pl.Expr:
    value = pl.col(column)
    return value.is_null() | (value.cast(pl.String).is_in(["0", "0.0", "false"]))


def empty_share(values: pl.DataFrame) -> float:
    """Share of user-days whose draft value is NULL, 0 or false."""
    if values.height == 0:
        return 0.0
    return values.select(_empty().mean()).item()


def _number(value) -> str:
    number = float(value)
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.4f}".rstrip("0").rstrip(".")


def value_summary(values: pl.DataFrame) -> str | None:
    """"Values from 0 to 1.2345; 812 of 4,200 user-days are neither NULL nor 0." for a
    numeric draft (None for other types or no values)."""
    column = values["value"]
    if not column.dtype.is_numeric():
        return None
    present = column.drop_nulls()
    if present.len() == 0:
        return None
    filled = int((present != 0).sum())
    return (f"Values from {_number(present.min())} to {_number(present.max())}; {filled:,} of {column.len():,} "
            "user-days are neither NULL nor 0.")


def distribution(values: pl.DataFrame, with_saved: bool, bins: int = 16, skip_empty: bool = False) -> pl.DataFrame:
    """How many user-days take each value (or fall in each bin of a numeric property with
    many values), per definition. Columns: definition ("draft"/"saved"), bucket (label),
    order, user_days, share (of the definition's user-days). ``skip_empty`` leaves out
    NULL, 0 and false (shares stay relative to all user-days)."""
    long = _long(values, with_saved)
    if skip_empty:
        totals = long.group_by("definition").len("total")
        long = long.filter(~_empty())
    present = long.filter(pl.col("value").is_not_null())
    columns = ["definition", "bucket", "order", "user_days"]
    if present.height == 0:
        counted = pl.DataFrame(schema={"definition": pl.String, "bucket": pl.String, "order": pl.Int64,
                                       "user_days": pl.UInt32})
    elif _is_numeric(present, "value") and present.select(pl.col("value").n_unique()).item() > MAX_CATEGORIES:
        counted = _binned(present, bins)
    else:
        counted = _categories(present)
    last = (counted.select(pl.col("order").max()).item() or 0) + 1 if counted.height else 0
    nulls = (long.filter(pl.col("value").is_null()).group_by("definition").len("user_days")
             .with_columns(pl.lit(NULL_LABEL).alias("bucket"), pl.lit(last, dtype=pl.Int64).alias("order")))
    counted = pl.concat([counted.select(columns).cast({"user_days": pl.Int64, "order": pl.Int64}),
                         nulls.select(columns).cast({"user_days": pl.Int64})], how="vertical_relaxed")
    if not skip_empty:
        totals = long.group_by("definition").len("total")
    return (counted.join(totals, on="definition")
            .with_columns((pl.col("user_days") / pl.col("total")).alias("share"))
            .select("definition", "bucket", "order", "user_days", "share")
            .sort("order", "definition"))


def _changed(values: pl.DataFrame) -> pl.Expr:
    return ~pl.col("value").eq_missing(pl.col("saved_value"))


def example_users(values: pl.DataFrame, with_saved: bool, count: int = 6) -> list[str]:
    """A few sampled users worth looking at: those whose values change first, then those
    with the most days that have a value."""
    scored = values.group_by("entity_id").agg(
        (_changed(values).sum() if with_saved else pl.lit(0)).alias("changed"),
        pl.col("value").is_not_null().sum().alias("filled"),
        (pl.col("value").cast(pl.String).n_unique()).alias("variety"),
    )
    return scored.sort(["changed", "variety", "filled", "entity_id"], descending=[True, True, True, False]) \
        .head(count)["entity_id"].to_list()


def user_days(values: pl.DataFrame, entity_id: str, with_saved: bool) -> pl.DataFrame:
    """One user's values day by day (latest first): date, draft, saved, changed."""
    mine = values.filter(pl.col("entity_id") == entity_id).sort("date", descending=True)
    if mine.schema["value"] in (pl.Date, pl.Datetime) or isinstance(mine.schema["value"], pl.Datetime):
        mine = mine.with_columns(pl.col("value", "saved_value").cast(pl.String))
    out = mine.select("date", pl.col("value").alias("draft"))
    if with_saved:
        out = out.with_columns(mine["saved_value"].alias("saved"), mine.select(_changed(mine))
                               .to_series().alias("changed"))
    return out


def changed_users(values: pl.DataFrame) -> int:
    return values.filter(_changed(values)).select(pl.col("entity_id").n_unique()).item()


def _period(result: PreviewResult) -> str:
    return f"{result.day_from:%b %d} – {result.day_to:%b %d, %Y}" if result.day_from else "the sample window"


def property_impact(result: PreviewResult, column_state: str | None = None) -> str:
    """The impact line of a property preview; ``column_state`` is how the model holds the
    saved property ("new": no column yet, "stale": an older definition's values)."""
    total = result.values.height if result.values is not None else 0
    sample = f"{result.sample_users:,} of {result.total_users:,} users sampled, {_period(result)}"
    if result.is_new:
        return f"New property: {total:,} user-days computed ({sample})."
    if column_state == "new" and not result.changed:
        return (f"Not in the model yet: {total:,} user-days computed from the events ({sample}); the model gets "
                "its column when it is materialized.")
    if not result.changed:
        return f"No change: all {total:,} user-days keep their value ({sample})."
    share = result.changed / total if total else 0
    users = changed_users(result.values)
    return (f"{result.changed:,} of {total:,} user-days change ({share:.1%}), for {users:,} user(s) "
            f"({sample}).")


# --------------------------------------------------------------------------- KPIs


def kpi_axis(points: pl.DataFrame) -> str:
    return "date" if "date" in points.columns else "cohort_day"


def kpi_long(points: pl.DataFrame, with_saved: bool) -> pl.DataFrame:
    """Points as axis, definition, value (for a chart)."""
    axis = kpi_axis(points)
    parts = [points.select(pl.col(axis), pl.lit("draft").alias("definition"), pl.col("value"))]
    if with_saved:  # first, so that the draft is drawn over it
        parts.insert(0, points.select(pl.col(axis), pl.lit("saved").alias("definition"),
                                      pl.col("saved_value").alias("value")))
    return pl.concat(parts, how="vertical_relaxed")


def kpi_impact(result: PreviewResult) -> str:
    points = result.points.height if result.points is not None else 0
    axis = kpi_axis(result.points) if result.points is not None else "date"
    unit = "day(s)" if axis == "date" else "cohort day(s)"
    sample = f"{result.sample_users:,} of {result.total_users:,} users sampled, {_period(result)}"
    if result.is_new:
        return f"New KPI: {points:,} {unit} computed ({sample})."
    if not result.changed:
        return f"No change: all {points:,} {unit} keep their value ({sample})."
    return f"{result.changed:,} of {points:,} {unit} change ({sample})."
