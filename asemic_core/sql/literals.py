"""Python values as SQL literals (sqlglot nodes), one place for every builder."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlglot import exp


def literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    # the type as a node: a type name would be parsed on every call (date literals are many)
    if isinstance(value, dt.datetime):
        return exp.Cast(this=exp.Literal.string(value.isoformat(sep=" ")),
                        to=exp.DataType(this=exp.DataType.Type.TIMESTAMP))
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType(this=exp.DataType.Type.DATE))
    return exp.Literal.string(str(value))
