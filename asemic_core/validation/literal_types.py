"""Whether a YAML literal fits a declared data type."""

from __future__ import annotations

import datetime as dt
from typing import Any

from asemic_core.config.models import DataType


def literal_fits(value: Any, data_type: DataType) -> bool:
    if value is None:
        return True
    match data_type:
        case DataType.NUMBER:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        case DataType.INTEGER:
            return isinstance(value, int) and not isinstance(value, bool)
        case DataType.STRING:
            return isinstance(value, str)
        case DataType.BOOLEAN:
            return isinstance(value, bool)
        case DataType.DATE:
            return _is_date(value)
        case DataType.DATETIME:
            return isinstance(value, (dt.datetime, dt.date)) or _parses(value, dt.datetime.fromisoformat)
    return False  # pragma: no cover - DataType is exhaustive


def _is_date(value: Any) -> bool:
    if isinstance(value, dt.datetime):
        return False
    return isinstance(value, dt.date) or _parses(value, dt.date.fromisoformat)


def _parses(value: Any, parser) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parser(value)
    except ValueError:
        return False
    return True


def describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"
