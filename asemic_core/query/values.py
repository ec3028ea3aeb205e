"""Logical-model values of one property: one row per (user, day)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from asemic_core.errors import AsemicError
from asemic_core.names import quote_name, sql_string
from asemic_core.query.model_source import ModelSource


def property_values(source: ModelSource, property_id: str, date_from: dt.date | None = None,
                    date_to: dt.date | None = None) -> pl.DataFrame:
    project = source.resolved
    prop = project.get_property(property_id)
    if prop is None:
        raise AsemicError(f"unknown property {property_id!r}")
    if date_from and date_to and date_from > date_to:
        raise AsemicError(f"--from {date_from} is after --to {date_to}")
    column = prop.id

    def sql() -> str:
        plan = source.plan([column], date_from, date_to)
        relation = source.relation_sql(plan)
        day_from, day_to = (f"CAST({sql_string(day)} AS DATE)" for day in (plan.day_from, plan.day_to))
        return (f"SELECT entity_id, date, {quote_name(column)} AS value FROM ({relation}) "
                f"WHERE date BETWEEN {day_from} AND {day_to} ORDER BY entity_id, date")

    frame, _sql = source.run(sql)
    return frame
