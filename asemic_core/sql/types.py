"""Config data types as SQL types (dialect-neutral sqlglot types)."""

from __future__ import annotations

from sqlglot import exp

from asemic_core.config.models import DataType

_SQL_TYPES = {
    DataType.NUMBER: exp.DataType.Type.DOUBLE,
    DataType.INTEGER: exp.DataType.Type.BIGINT,
    DataType.STRING: exp.DataType.Type.VARCHAR,
    DataType.DATE: exp.DataType.Type.DATE,
    DataType.DATETIME: exp.DataType.Type.TIMESTAMP,
    DataType.BOOLEAN: exp.DataType.Type.BOOLEAN,
}


def sql_type(data_type: DataType) -> exp.DataType:
    return exp.DataType(this=_SQL_TYPES[data_type])


def cast(expression: exp.Expression, data_type: DataType) -> exp.Expression:
    return exp.Cast(this=expression, to=sql_type(data_type))


def typed_null(data_type: DataType) -> exp.Expression:
    return cast(exp.Null(), data_type)
