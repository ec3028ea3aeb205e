"""Literals as a form shows and reads them (``0``, ``'0'``, ``true``), and the rows of
the value-mappings editor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from asemic_core.config.models import DataType, ValueMapping


def clean_text(value: Any) -> str:
    """A text field's content without surrounding blanks ("" for anything else)."""
    return value.strip() if isinstance(value, str) else ""


def format_literal(value: Any) -> str:
    """A YAML literal as the text a form shows (``None`` is empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def parse_literal(text: Any, data_type: DataType | str | None = None) -> Any:
    """The literal a form text stands for: typed by ``data_type`` when it is known (a
    STRING property's ``new_value: 1`` is the text "1"), else read as YAML would read a
    plain scalar. Text that does not fit the type is kept as text, so that validation
    names the problem. Quotes force text: ``'0'`` is the string "0"."""
    if text is None:
        return None
    if not isinstance(text, str):
        return text
    raw = text.strip()
    if raw == "":
        return None
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    kind = DataType(data_type) if data_type else None
    if kind is DataType.STRING:
        return raw
    if kind in (DataType.DATE, DataType.DATETIME):
        return raw
    if kind is DataType.BOOLEAN or kind is None:
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        if kind is DataType.BOOLEAN:
            return raw
    for number in (int, float):
        try:
            return number(raw)
        except ValueError:
            pass
    return raw


# ------------------------------------------------------------------------ value mappings

MAPPING_COLUMNS = ("match", "constant", "from", "to", "new_value")


def mapping_rows(mappings: list[ValueMapping] | None) -> list[dict[str, str]]:
    rows = []
    for mapping in mappings or []:
        if mapping.range is not None:
            rows.append({"match": "range", "constant": "", "from": format_literal(mapping.range.from_),
                         "to": format_literal(mapping.range.to), "new_value": format_literal(mapping.new_value)})
        else:
            rows.append({"match": "constant", "constant": format_literal(mapping.constant), "from": "", "to": "",
                         "new_value": format_literal(mapping.new_value)})
    return rows


def _is_blank(row: dict) -> bool:
    return all(not str(row.get(col) or "").strip() for col in MAPPING_COLUMNS if col != "match")


def mappings_data(rows: list[dict], data_type: str | None) -> list[dict] | None:
    """``value_mappings`` data of editor rows (blank rows are ignored)."""
    out = []
    for row in rows:
        if _is_blank(row):
            continue
        match = row.get("match") or ("range" if (row.get("from") or row.get("to")) else "constant")
        item: dict[str, Any] = {}
        if match == "range":
            bounds = {}
            if str(row.get("from") or "").strip():
                bounds["from"] = parse_literal(row.get("from"))
            if str(row.get("to") or "").strip():
                bounds["to"] = parse_literal(row.get("to"))
            item["range"] = bounds
        else:
            item["constant"] = parse_literal(row.get("constant"))
        item["new_value"] = parse_literal(row.get("new_value"), data_type)
        out.append(item)
    return out or None
