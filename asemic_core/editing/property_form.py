"""The property editor's form: every kind's fields side by side (switching kind and back
loses nothing), literals as text; to and from ``Property``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from asemic_core.config.models import ComputedPropertyDef, EventPropertyDef, Property
from asemic_core.editing.form_issues import REQUIRED, form_issue, model_issues, unless_known
from asemic_core.editing.form_literals import clean_text, format_literal, mapping_rows, mappings_data, parse_literal
from asemic_core.issues import Issue

SOURCED_KINDS = ("sliding_window_property", "fixed_window_property", "lifetime_property")
SOURCE_MODES = ("property", "event", "computed")


def _event_form(definition: EventPropertyDef | None = None) -> dict:
    if definition is None:
        return {"source_event": None, "select": "", "aggregate_function": "count", "where": "", "default_value": "",
                "data_type": None}
    return {"source_event": definition.source_event, "select": definition.select,
            "aggregate_function": definition.aggregate_function, "where": definition.where or "",
            "default_value": format_literal(definition.default_value),
            "data_type": definition.data_type.value if definition.data_type else None}


def _computed_form(definition: ComputedPropertyDef | None = None) -> dict:
    if definition is None:
        return {"select": "", "value_mappings": [], "data_type": None}
    return {"select": definition.select, "value_mappings": mapping_rows(definition.value_mappings),
            "data_type": definition.data_type.value if definition.data_type else None}


def new_property_form(kind: str = "event_property", file: str | None = None) -> dict:
    return {
        "id": "", "original_id": None, "file": file, "kind": kind,
        "data_type": "INTEGER", "label": "", "description": "", "can_filter": True, "can_group_by": False,
        "set_fields": [],
        "event": _event_form(), "registration": {"source_column": None}, "computed": _computed_form(),
        "window": {"window_function": "sum", "relative_days_from": -6, "relative_days_to": 0,
                   "date_from": None, "date_to": None, "merge_function": "sum",
                   "source": "property", "source_property": None},
        "inline_event": _event_form(), "inline_computed": _computed_form(),
    }


def property_form(prop_id: str, prop: Property, file: str | None) -> dict:
    """The form of a saved property (what the editor opens with)."""
    form = new_property_form(prop.kind, file)
    form.update(id=prop_id, original_id=prop_id, data_type=prop.data_type.value, label=prop.label or "",
                description=prop.description or "", can_filter=prop.can_filter, can_group_by=prop.can_group_by,
                set_fields=sorted(prop.model_fields_set & {"can_filter", "can_group_by"}))
    definition = prop.definition
    if prop.event_property is not None:
        form["event"] = _event_form(prop.event_property)
    elif prop.registration_property is not None:
        form["registration"] = {"source_column": prop.registration_property.source_column}
    elif prop.computed_property is not None:
        form["computed"] = _computed_form(prop.computed_property)
    else:
        window = form["window"]
        for name in ("window_function", "relative_days_from", "relative_days_to", "date_from", "date_to",
                     "merge_function"):
            if hasattr(definition, name):
                window[name] = getattr(definition, name)
        if definition.source_property is not None:
            window.update(source="property", source_property=definition.source_property)
        elif definition.source_event_property is not None:
            window["source"] = "event"
            form["inline_event"] = _event_form(definition.source_event_property)
        else:
            window["source"] = "computed"
            form["inline_computed"] = _computed_form(definition.source_computed_property)
    return form


def _event_data(part: dict, data_type: str | None, object_id: str, prefix: str, issues: list[Issue]) -> dict:
    data: dict[str, Any] = {}
    if part.get("source_event"):
        data["source_event"] = part["source_event"]
    else:
        issues.append(form_issue(object_id, f"{prefix}.source_event", "choose the event table to read", REQUIRED))
    if clean_text(part.get("select")):
        data["select"] = clean_text(part["select"])
    data["aggregate_function"] = part.get("aggregate_function")
    if clean_text(part.get("where")):
        data["where"] = clean_text(part["where"])
    default = parse_literal(part.get("default_value"), data_type)
    if default is not None:
        data["default_value"] = default
    if part.get("data_type"):
        data["data_type"] = part["data_type"]
    return data


def _computed_data(part: dict, data_type: str | None) -> dict:
    data: dict[str, Any] = {}
    if clean_text(part.get("select")):
        data["select"] = clean_text(part["select"])
    mappings = mappings_data(part.get("value_mappings") or [], data_type)
    if mappings:
        data["value_mappings"] = mappings
    if part.get("data_type"):
        data["data_type"] = part["data_type"]
    return data


def property_data(form: dict, issues: list[Issue] | None = None) -> dict:
    """The YAML data of a property form (what would be written)."""
    issues = issues if issues is not None else []
    object_id = (form.get("id") or "").strip()
    kind = form["kind"]
    data: dict[str, Any] = {"data_type": form["data_type"]}
    for name in ("label", "description"):
        if clean_text(form.get(name)):
            data[name] = clean_text(form[name])
    set_fields = set(form.get("set_fields") or [])
    if not form.get("can_filter", True) or "can_filter" in set_fields:
        data["can_filter"] = bool(form.get("can_filter", True))
    if form.get("can_group_by") or "can_group_by" in set_fields:
        data["can_group_by"] = bool(form.get("can_group_by"))
    if kind == "event_property":
        data[kind] = _event_data(form["event"], form["data_type"], object_id, kind, issues)
    elif kind == "registration_property":
        column = form["registration"].get("source_column")
        data[kind] = {"source_column": column} if column else {}
    elif kind == "computed_property":
        data[kind] = _computed_data(form["computed"], form["data_type"])
    elif kind in SOURCED_KINDS:
        window = form["window"]
        body: dict[str, Any] = {}
        if kind == "lifetime_property":
            body["merge_function"] = window.get("merge_function")
        else:
            body["window_function"] = window.get("window_function")
        if kind == "sliding_window_property":
            body["relative_days_from"] = window.get("relative_days_from")
            body["relative_days_to"] = window.get("relative_days_to")
        if kind == "fixed_window_property":
            for name in ("date_from", "date_to"):
                if window.get(name) is not None:
                    body[name] = window[name]
        mode = window.get("source") or "property"
        if mode == "property":
            if window.get("source_property"):
                body["source_property"] = window["source_property"]
            else:
                issues.append(form_issue(object_id, f"{kind}.source_property", "choose the property to aggregate",
                                     REQUIRED))
        elif mode == "event":
            body["source_event_property"] = _event_data(form["inline_event"], None, object_id,
                                                        f"{kind}.source_event_property", issues)
        else:
            body["source_computed_property"] = _computed_data(form["inline_computed"], None)
        data[kind] = body
    else:  # pragma: no cover - the kind selector offers PROPERTY_KINDS only
        raise ValueError(f"unknown property kind {kind!r}")
    return data


def property_from_form(form: dict) -> tuple[Property | None, list[Issue]]:
    """The property a form describes, or the issues that stop it from being one."""
    object_id = (form.get("id") or "").strip()
    issues: list[Issue] = []
    data = property_data(form, issues)
    try:
        model = Property.model_validate(data)
    except ValidationError as err:
        return None, issues + unless_known(model_issues(err, object_id), issues)
    return (None, issues) if issues else (model, [])
