"""Row filters on property values: ``PROPERTY OP VALUE`` (SEMANTICS 6)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from asemic_core.sql.literals import literal
from asemic_core.config.models import DataType
from asemic_core.errors import AsemicError
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.sources import quoted

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null")
_FILTER_RE = re.compile(
    r"^\s*(?P<prop>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>is\s+not\s+null|is\s+null|not\s+in|in|!=|<>|<=|>=|=|<|>)\s*(?P<value>.*?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Filter:
    property: str
    op: str
    value: Any = None

    def describe(self) -> str:
        if self.op in ("is null", "is not null"):
            return f"{self.property} {self.op}"
        return f"{self.property} {self.op} {self.value!r}"


def parse_filter(text: str, project: ResolvedProject) -> Filter:
    match = _FILTER_RE.match(text)
    if not match:
        raise AsemicError(f"cannot read filter {text!r}: write PROPERTY OP VALUE with OP one of {', '.join(OPERATORS)}")
    name, op, raw = match.group("prop"), " ".join(match.group("op").lower().split()), match.group("value")
    op = "!=" if op == "<>" else op
    prop = project.get_property(name)
    if prop is None or prop.hidden:
        raise AsemicError(f"filter {text!r}: unknown property {name!r}")
    if not prop.can_filter:
        raise AsemicError(f"filter {text!r}: property {name!r} has can_filter: false")
    if op in ("is null", "is not null"):
        if raw:
            raise AsemicError(f"filter {text!r}: '{op}' takes no value")
        return Filter(prop.id, op)
    if not raw:
        raise AsemicError(f"filter {text!r}: missing value after {op!r}")
    if op in ("in", "not in"):
        inner = raw[1:-1] if raw.startswith("(") and raw.endswith(")") else raw
        values = [typed_value(v.strip(), prop.data_type, text) for v in _split_list(inner)]
        if not values:
            raise AsemicError(f"filter {text!r}: empty list")
        return Filter(prop.id, op, tuple(values))
    return Filter(prop.id, op, typed_value(raw, prop.data_type, text))


def _split_list(text: str) -> list[str]:
    out, current, quote = [], "", None
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            current += char
        elif char == ",":
            out.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        out.append(current)
    return [v for v in out if v.strip()]


def typed_value(raw: Any, data_type: DataType, context: str = "") -> Any:
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
        if data_type is DataType.STRING:
            return text
    where = f" in {context!r}" if context else ""
    try:
        match data_type:
            case DataType.NUMBER:
                return float(text)
            case DataType.INTEGER:
                return int(text)
            case DataType.BOOLEAN:
                if text.lower() in ("true", "1", "yes"):
                    return True
                if text.lower() in ("false", "0", "no"):
                    return False
                raise ValueError(text)
            case DataType.DATE:
                return dt.date.fromisoformat(text)
            case DataType.DATETIME:
                return dt.datetime.fromisoformat(text)
            case DataType.STRING:
                return text
    except ValueError:
        raise AsemicError(f"value {text!r}{where} is not a valid {data_type.value}") from None
    raise AssertionError(data_type)  # pragma: no cover


def filter_condition(flt: Filter, table: str | None = None) -> exp.Expression:
    column = quoted(flt.property, table)
    match flt.op:
        case "=":
            return exp.EQ(this=column, expression=literal(flt.value))
        case "!=":
            return exp.NEQ(this=column, expression=literal(flt.value))
        case "<":
            return exp.LT(this=column, expression=literal(flt.value))
        case "<=":
            return exp.LTE(this=column, expression=literal(flt.value))
        case ">":
            return exp.GT(this=column, expression=literal(flt.value))
        case ">=":
            return exp.GTE(this=column, expression=literal(flt.value))
        case "in":
            return exp.In(this=column, expressions=[literal(v) for v in flt.value])
        case "not in":
            return exp.Not(this=exp.In(this=column, expressions=[literal(v) for v in flt.value]))
        case "is null":
            return exp.Is(this=column, expression=exp.Null())
        case "is not null":
            return exp.Not(this=exp.Is(this=column, expression=exp.Null()))
    raise AssertionError(flt.op)  # pragma: no cover
