"""The event-table form as plain values, and the YAML data it stands for.

The studio's form edits only some fields of an event table; :func:`event_data` lays the
form over the table as written, so fields the form does not show (enrichments, column
descriptions, legacy keys...) are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asemic_core.config.models import EventTable
from asemic_core.editing.event_suggestion import EventSuggestion
from asemic_core.config.model_data import to_yaml_data


@dataclass
class ColumnForm:
    name: str
    include: bool
    data_type: str | None
    tags: list[str] = field(default_factory=list)
    label: str = ""
    warehouse_type: str | None = None  # None: not in the warehouse table


@dataclass
class EventForm:
    table_name: str
    columns: list[ColumnForm]
    tags: list[str] = field(default_factory=list)
    label: str = ""
    description: str = ""
    where: str = ""


def form_for_event(table: EventTable, warehouse_columns: dict[str, str] | None) -> EventForm:
    """The form of a saved table; warehouse columns it does not declare come unticked."""
    warehouse_columns = warehouse_columns or {}
    columns = [
        ColumnForm(name, True, column.data_type.value, list(column.tags), column.label or "", warehouse_columns.get(name))
        for name, column in table.columns.items()
    ]
    from asemic_core.warehouse import data_type_of

    for name, warehouse_type in warehouse_columns.items():
        if name not in table.columns:
            data_type = data_type_of(warehouse_type)
            columns.append(ColumnForm(name, False, data_type.value if data_type else None, [], "", warehouse_type))
    return EventForm(table.table_name, columns, list(table.tags), table.label or "", table.description or "",
                     table.where or "")


def form_for_suggestion(suggestion: EventSuggestion) -> EventForm:
    columns = [
        ColumnForm(c.name, c.include, c.data_type.value if c.data_type else None, list(c.tags), "", c.warehouse_type)
        for c in suggestion.columns
    ]
    return EventForm(suggestion.table_name, columns, list(suggestion.tags), suggestion.label)


def _set_optional(data: dict, key: str, value: Any) -> None:
    if value in (None, "", []):
        data.pop(key, None)
    else:
        data[key] = value


def event_data(form: EventForm, base: EventTable | None = None) -> dict:
    """Plain YAML data of the table: ``base`` (as written) with the form's fields applied."""
    data: dict[str, Any] = to_yaml_data(base) if base is not None else {}
    base_columns: dict[str, dict] = data.get("columns", {}) if isinstance(data.get("columns"), dict) else {}
    columns: dict[str, dict] = {}
    for column in form.columns:
        if not column.include:
            continue
        body = dict(base_columns.get(column.name, {}))
        body["data_type"] = column.data_type
        _set_optional(body, "label", column.label.strip())
        _set_optional(body, "tags", list(column.tags))
        # data_type first, as in the model (a new column's keys in canonical order)
        columns[column.name] = {"data_type": body.pop("data_type"), **body}
    out: dict[str, Any] = {"table_name": form.table_name.strip(), "columns": columns}
    for key, value in data.items():
        if key not in out:
            out[key] = value
    _set_optional(out, "tags", list(form.tags))
    _set_optional(out, "label", form.label.strip())
    _set_optional(out, "description", form.description.strip())
    _set_optional(out, "where", form.where.strip())
    return _canonical_order(out)


def _canonical_order(data: dict) -> dict:
    order = list(EventTable.model_fields)
    return dict(sorted(data.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


# ------------------------------------------------------------ the editor's draft dict


def event_draft(event_id: str, form: EventForm, original_id: str | None, file: str | None = None) -> dict:
    """The shared editor's draft of an event table: plain values, columns by position
    (column names may hold dots, which the editor's field paths cannot)."""
    return {
        "id": event_id, "original_id": original_id, "file": file, "table_name": form.table_name,
        "tags": list(form.tags), "label": form.label, "description": form.description, "where": form.where,
        "columns": {str(i): {"name": c.name, "include": c.include, "data_type": c.data_type, "tags": list(c.tags),
                             "label": c.label, "warehouse_type": c.warehouse_type}
                    for i, c in enumerate(form.columns)},
        "touched": [],
    }


def event_form_of(draft: dict) -> EventForm:
    """The :class:`EventForm` a draft dict describes."""
    columns = [draft["columns"][key] for key in sorted(draft.get("columns") or {}, key=int)]
    return EventForm(
        table_name=draft.get("table_name") or "",
        columns=[ColumnForm(c["name"], bool(c.get("include")), c.get("data_type"), list(c.get("tags") or []),
                            c.get("label") or "", c.get("warehouse_type")) for c in columns],
        tags=list(draft.get("tags") or []), label=draft.get("label") or "",
        description=draft.get("description") or "", where=draft.get("where") or "",
    )
