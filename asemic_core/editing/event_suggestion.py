"""Suggested event-table definitions for a warehouse table (the "add from warehouse" form).

Suggestions are guesses from names and types only; the analyst adjusts them before
anything is saved. Each tag is suggested on at most one column, so a suggestion never
breaks the "exactly one" rules of SEMANTICS 3 by itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from asemic_core.config.models import DataType
from asemic_core.warehouse import Column

# Most specific first: the first column matching wins.
ENTITY_ID_NAMES = ("user_id", "entity_id", "player_id", "userid", "playerid", "account_id", "customer_id", "uid")
_ENTITY_ID_PATTERN = re.compile(r"^(user|entity|player|account|customer|member)_?id$", re.IGNORECASE)
TIMESTAMP_NAMES = ("event_ts", "event_time", "event_timestamp", "timestamp", "ts", "time")
DATE_NAMES = ("event_date", "date")
AMOUNT_WORDS = ("amount", "revenue", "price")

# Words in the table name -> table tag (SEMANTICS 3).
TABLE_TAG_WORDS: dict[str, tuple[str, ...]] = {
    "registration_event": ("registration", "register", "install", "signup", "sign_up"),
    "activity_event": ("session", "login", "log_in"),
    "payment_transaction_event": ("purchase", "payment", "transaction"),
}


@dataclass
class ColumnSuggestion:
    name: str
    warehouse_type: str
    data_type: DataType | None  # None: a warehouse type asemic cannot read
    tags: list[str] = field(default_factory=list)
    include: bool = True
    why: str = ""


@dataclass
class EventSuggestion:
    event_id: str
    table_name: str
    label: str
    tags: list[str]
    columns: list[ColumnSuggestion]

    def column(self, name: str) -> ColumnSuggestion:
        return next(c for c in self.columns if c.name == name)

    def to_data(self) -> dict:
        """The suggestion as event-table data (plain, as the YAML would hold it)."""
        columns: dict[str, dict] = {}
        for column in self.columns:
            if column.include and column.data_type is not None:
                body: dict = {"data_type": column.data_type.value}
                if column.tags:
                    body["tags"] = list(column.tags)
                columns[column.name] = body
        data: dict = {"table_name": self.table_name, "columns": columns}
        if self.tags:
            data["tags"] = list(self.tags)
        data["label"] = self.label
        return data


def event_id_for(table_name: str, taken: Iterable[str] = ()) -> str:
    """A singular event id from a table name (``game.ad_views`` -> ``ad_view``), unique among ``taken``."""
    base = table_name.rsplit(".", 1)[-1].lower()
    base = re.sub(r"[^a-z0-9_]", "_", base).strip("_") or "event"
    if base.endswith("ies") and len(base) > 4:
        base = base[:-3] + "y"
    elif base.endswith("s") and not base.endswith("ss") and len(base) > 2:
        base = base[:-1]
    if base[0].isdigit():
        base = f"event_{base}"
    taken = set(taken)
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def label_for(event_id: str) -> str:
    words = event_id.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def table_tags(table_name: str) -> list[str]:
    name = table_name.rsplit(".", 1)[-1].lower()
    return [tag for tag, words in TABLE_TAG_WORDS.items() if any(word in name for word in words)]


def _first(columns: list[ColumnSuggestion], *tests) -> ColumnSuggestion | None:
    for test in tests:
        for column in columns:
            if test(column):
                return column
    return None


def suggest_event(table_name: str, columns: Mapping[str, Column], taken_ids: Iterable[str] = ()) -> EventSuggestion:
    """Suggested roles, tags and types for the columns of ``table_name``."""
    found = [
        ColumnSuggestion(c.name, c.warehouse_type, c.data_type, include=c.data_type is not None,
                         why="" if c.data_type is not None else f"type {c.warehouse_type} is not supported")
        for c in columns.values()
    ]
    lower = {c.name: c.name.lower() for c in found}

    def tag(column: ColumnSuggestion | None, name: str, why: str) -> None:
        if column is not None:
            column.tags.append(name)
            column.why = why

    tag(_first(found,
               lambda c: lower[c.name] in ENTITY_ID_NAMES and c.data_type in (DataType.STRING, DataType.INTEGER),
               lambda c: bool(_ENTITY_ID_PATTERN.match(c.name)) and c.data_type in (DataType.STRING, DataType.INTEGER)),
        "entity_id_column", "named like a user id")
    datetimes = [c for c in found if c.data_type is DataType.DATETIME]
    tag(_first(datetimes,
               lambda c: lower[c.name] in TIMESTAMP_NAMES,
               lambda c: lower[c.name].endswith("_ts"),
               lambda c: "time" in lower[c.name],
               lambda c: len(datetimes) == 1),
        "event_timestamp_column", "a timestamp named like an event time")
    dates = [c for c in found if c.data_type is DataType.DATE]
    tag(_first(dates, lambda c: lower[c.name] in DATE_NAMES, lambda c: "date" in lower[c.name], lambda c: len(dates) == 1),
        "date_column", "the table's date column")
    tag(_first(found, lambda c: c.data_type is DataType.NUMBER and any(w in lower[c.name] for w in AMOUNT_WORDS)),
        "transaction_amount_column", "a number named like an amount")
    event_id = event_id_for(table_name, taken_ids)
    return EventSuggestion(event_id, table_name, label_for(event_id), table_tags(table_name), found)
