"""The plain data behind the property and KPI editors, and its way to and from the models.

An editor keeps a *form*: a JSON-like dict of what the analyst typed (literals as text,
every kind's fields kept side by side so that switching kind and back loses nothing).
``property_from_form`` / ``kpi_from_form`` turn a form into a config model, or into
issues whose ``field`` paths are the same dotted paths validation uses
(``sliding_window_property.relative_days_from``), so the app can show each problem next
to the field that causes it. Nothing here knows about Streamlit.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from asemic_core.config.loader import ENTITY_DIR, ProjectFiles
from asemic_core.config.models import (
    PROPERTY_KINDS,
    ComputedPropertyDef,
    DataType,
    EventPropertyDef,
    Kpi,
    Property,
    ValueMapping,
)
from asemic_core.issues import Issue
from asemic_core.semantic.resolve_properties import default_label  # noqa: F401 (the label a form suggests)

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KPI_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\{\}[A-Za-z0-9_]*)?$")
SOURCED_KINDS = ("sliding_window_property", "fixed_window_property", "lifetime_property")
SOURCE_MODES = ("property", "event", "computed")
SOURCE_KEYS = {"property": "source_property", "event": "source_event_property", "computed": "source_computed_property"}
AXES = ("date", "cohort_day")

# ----------------------------------------------------------------------------- literals


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


# ------------------------------------------------------------------------ issues


def _loc_field(loc: tuple) -> str:
    parts = []
    for part in loc:
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue  # a union member's tag, not a key
        parts.append("from" if part == "from_" else str(part))
    return ".".join(parts)


def _pydantic_message(error: dict) -> str:
    names = [p for p in error["loc"] if isinstance(p, str) and "[" not in p]
    name = "from" if names and names[-1] == "from_" else (names[-1] if names else "")
    if error["type"] == "missing":
        return f"{name} is required" if name else "a value is required"
    if error["type"] == "extra_forbidden":
        return f"unknown field {name!r}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] not in {"value_error", "model_type", "dict_type"} and not isinstance(value, (dict, list)):
        message = f"{message} (got {value!r})"
    return message


def model_issues(err: ValidationError, object_id: str) -> list[Issue]:
    """A model's construction errors as issues on form fields."""
    return [Issue(None, None, _pydantic_message(e), object_id=object_id, field=_loc_field(e["loc"]) or None,
                  rule="schema") for e in err.errors(include_url=False)]


def _issue(object_id: str, field: str | None, message: str, rule: str = "form") -> Issue:
    return Issue(None, None, message, object_id=object_id, field=field, rule=rule)


def id_issues(kind: str, form: dict, existing: set[str]) -> list[Issue]:
    """Problems of the id typed for a new object (an existing object keeps its id)."""
    new_id = (form.get("id") or "").strip()
    if form.get("original_id"):
        return []
    pattern = KPI_ID_RE if kind == "kpi" else IDENTIFIER_RE
    if not new_id:
        return [_issue(new_id, "id", "give the new object an id")]
    if not pattern.match(new_id):
        extra = " (a templated KPI has one '{}' slot)" if kind == "kpi" else ""
        return [_issue(new_id, "id", f"{new_id!r} is not a valid id: use letters, digits and _, not starting with a digit{extra}")]
    if new_id in existing:
        return [_issue(new_id, "id", f"{new_id!r} already exists: open it from the list to edit it")]
    return []


# ----------------------------------------------------------------------- properties


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


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _event_data(part: dict, data_type: str | None, object_id: str, prefix: str, issues: list[Issue]) -> dict:
    data: dict[str, Any] = {}
    if part.get("source_event"):
        data["source_event"] = part["source_event"]
    else:
        issues.append(_issue(object_id, f"{prefix}.source_event", "choose the event table to read"))
    if _text(part.get("select")):
        data["select"] = _text(part["select"])
    data["aggregate_function"] = part.get("aggregate_function")
    if _text(part.get("where")):
        data["where"] = _text(part["where"])
    default = parse_literal(part.get("default_value"), data_type)
    if default is not None:
        data["default_value"] = default
    if part.get("data_type"):
        data["data_type"] = part["data_type"]
    return data


def _computed_data(part: dict, data_type: str | None) -> dict:
    data: dict[str, Any] = {}
    if _text(part.get("select")):
        data["select"] = _text(part["select"])
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
        if _text(form.get(name)):
            data[name] = _text(form[name])
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
                issues.append(_issue(object_id, f"{kind}.source_property", "choose the property to aggregate"))
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
        known = {i.field for i in issues}
        return None, issues + [i for i in model_issues(err, object_id) if i.field not in known]
    return (None, issues) if issues else (model, [])


def property_dirty(form: dict, saved: Property | None) -> bool:
    model, _ = property_from_form(form)
    return saved is None or model != saved


def switch_kind(form: dict, kind: str) -> dict:
    """The form with another kind selected; each kind's fields are kept."""
    if kind not in PROPERTY_KINDS:
        raise ValueError(f"unknown property kind {kind!r}")
    out = copy.deepcopy(form)
    out["kind"] = kind
    return out


# --------------------------------------------------------------------------- KPIs


def new_kpi_form(file: str | None = None) -> dict:
    return {
        "id": "", "original_id": None, "file": file, "label": "", "description": "", "select": "", "where": "",
        "axes": {"date": True, "cohort_day": False}, "axis_totals": {"date": None, "cohort_day": None},
        "axis_names": {"date": "date", "cohort_day": "cohort_day"}, "total_function": None,
        "unit_symbol": "", "unit_prefix": False, "template": "none", "template_values": "",
    }


def kpi_form(kpi_id: str, kpi: Kpi, file: str | None, date_aliases: set[str] = frozenset()) -> dict:
    form = new_kpi_form(file)
    form.update(id=kpi_id, original_id=kpi_id, label=kpi.label or "", description=kpi.description or "",
                select=kpi.select, where=kpi.where or "", total_function=kpi.total_function)
    form["axes"] = {"date": False, "cohort_day": False}
    for name, axis in kpi.x_axis.items():
        role = "cohort_day" if name == "cohort_day" else "date" if (name == "date" or name in date_aliases) else None
        if role is None:
            continue
        form["axes"][role] = True
        form["axis_totals"][role] = axis.total_function
        form["axis_names"][role] = name
    if kpi.unit is not None:
        form["unit_symbol"], form["unit_prefix"] = kpi.unit.symbol, kpi.unit.is_prefix
    if kpi.template == "cohort_day":
        form["template"] = "cohort_day"
    elif isinstance(kpi.template, list):
        form["template"] = "list"
        form["template_values"] = ", ".join(str(v) for v in kpi.template)
    return form


def template_list(text: str) -> list[int | str]:
    values: list[int | str] = []
    for part in (text or "").split(","):
        part = part.strip()
        if part:
            values.append(int(part) if re.fullmatch(r"-?\d+", part) else part)
    return values


def kpi_data(form: dict) -> dict:
    data: dict[str, Any] = {}
    if _text(form.get("select")):
        data["select"] = _text(form["select"])
    axes = {}
    for role in AXES:
        if form["axes"].get(role):
            total = form["axis_totals"].get(role)
            axes[form["axis_names"].get(role) or role] = {"total_function": total} if total else {}
    data["x_axis"] = axes
    if _text(form.get("where")):
        data["where"] = _text(form["where"])
    for name in ("label", "description"):
        if _text(form.get(name)):
            data[name] = _text(form[name])
    if _text(form.get("unit_symbol")):
        data["unit"] = {"symbol": _text(form["unit_symbol"]), "is_prefix": bool(form.get("unit_prefix"))}
    if form.get("total_function"):
        data["total_function"] = form["total_function"]
    if form.get("template") == "cohort_day":
        data["template"] = "cohort_day"
    elif form.get("template") == "list":
        data["template"] = template_list(form.get("template_values") or "")
    return data


def kpi_from_form(form: dict) -> tuple[Kpi | None, list[Issue]]:
    object_id = (form.get("id") or "").strip()
    data = kpi_data(form)
    issues: list[Issue] = []
    if not data["x_axis"]:
        issues.append(_issue(object_id, "x_axis", "choose at least one x axis (date or cohort_day)"))
    if form.get("template") == "list" and not data.get("template"):
        issues.append(_issue(object_id, "template", "list the template values, separated by commas"))
    try:
        model = Kpi.model_validate(data)
    except ValidationError as err:
        known = {i.field for i in issues}
        return None, issues + [i for i in model_issues(err, object_id) if i.field not in known]
    return (None, issues) if issues else (model, [])


def kpi_dirty(form: dict, saved: Kpi | None) -> bool:
    model, _ = kpi_from_form(form)
    return saved is None or model != saved


# ------------------------------------------------------------------------- files


def collection_files(files: ProjectFiles, collection: str) -> list[str]:
    """Files that hold ``properties:`` or ``kpis:`` (relative paths, sorted)."""
    found = {located.file for located in getattr(files, collection).values()}
    prefix = f"{ENTITY_DIR}/{collection}/"
    found |= {rel for rel in files.documents if rel.startswith(prefix)}
    return sorted(found)


def default_property_file(files: ProjectFiles, kind: str, new_id: str = "") -> str:
    """Where a new property of ``kind`` goes by default: the file holding the most
    properties of that kind, else the first property file, else ``<id>.yml``."""
    counts: dict[str, int] = {}
    for located in files.properties.values():
        if located.model.kind == kind:
            counts[located.file] = counts.get(located.file, 0) + 1
    if counts:
        return max(sorted(counts), key=lambda f: counts[f])
    existing = collection_files(files, "properties")
    if existing:
        return existing[0]
    return f"{ENTITY_DIR}/properties/{new_id or 'properties'}.yml"


def default_kpi_file(files: ProjectFiles, property_refs: set[str] = frozenset()) -> str:
    """Where a new KPI goes by default: the file whose KPIs use most of the same
    properties, else the file with the most KPIs, else ``kpis.yml``."""
    from asemic_core.semantic.placeholders import references

    scores: dict[str, tuple[int, int]] = {}
    for located in files.kpis.values():
        refs = {r.name for r in references(located.model.select) if r.namespace == "property"}
        shared, size = scores.get(located.file, (0, 0))
        scores[located.file] = (shared + len(refs & set(property_refs)), size + 1)
    if scores:
        return max(sorted(scores), key=lambda f: scores[f])
    existing = collection_files(files, "kpis")
    return existing[0] if existing else f"{ENTITY_DIR}/kpis/kpis.yml"


def model_json(model: BaseModel) -> str:
    """A stable text of a model (cache key)."""
    return model.model_dump_json(by_alias=True, exclude_unset=True)
