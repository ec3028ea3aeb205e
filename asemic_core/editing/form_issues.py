"""Problems of a form as issues on the dotted field paths validation uses
(``sliding_window_property.relative_days_from``), so the app shows each one next to its
field."""

from __future__ import annotations


from pydantic import ValidationError

from asemic_core.issues import Issue
from asemic_core.names import MAX_NAME_LENGTH, identifier_problem, suggest_name

REQUIRED = "required"  # the rule of "fill in this field" issues


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
                  rule=REQUIRED if e["type"] == "missing" else "schema") for e in err.errors(include_url=False)]


def form_issue(object_id: str, field: str | None, message: str, rule: str = "form") -> Issue:
    return Issue(None, None, message, object_id=object_id, field=field, rule=rule)


def unless_known(found: list[Issue], known: list[Issue]) -> list[Issue]:
    """``found`` without what ``known`` already says, on the same field or more precisely
    (a missing source is "choose the property", not also "needs exactly one source")."""
    fields = [i.field or "" for i in known]
    return [i for i in found
            if not any(f == (i.field or "") or f.startswith((i.field or "") + ".") for f in fields)]


def untouched_required(issues: list[Issue], form: dict) -> tuple[list[Issue], list[Issue]]:
    """Split off the "required" issues of a new object's fields the analyst has not
    reached yet (nobody wants a wall of red on an empty form). Returns (shown, pending)."""
    if form.get("original_id"):
        return issues, []
    touched = {path.rsplit(".", 1)[-1] for path in form.get("touched") or []}
    shown, pending = [], []
    for issue in issues:
        leaf = (issue.field or "").rsplit(".", 1)[-1]
        (pending if issue.rule == REQUIRED and leaf not in touched else shown).append(issue)
    return shown, pending


def id_issues(kind: str, form: dict, existing: set[str]) -> list[Issue]:
    """Problems of the id typed for a new object (an existing object keeps its id)."""
    new_id = (form.get("id") or "").strip()
    if form.get("original_id"):
        return []
    if not new_id:
        return [form_issue(new_id, "id", "give the new object an id")]
    if identifier_problem(new_id, template_slot=kind == "kpi"):
        extra = " (a templated KPI has one '{}' slot)" if kind == "kpi" else ""
        return [form_issue(new_id, "id", f"{new_id!r} is not a valid id: use letters, digits and _, "
                           f"not starting with a digit, at most {MAX_NAME_LENGTH} characters{extra}; "
                           f"for example {suggest_name(new_id, kind == 'kpi')!r}")]
    if new_id in existing:
        return [form_issue(new_id, "id", f"{new_id!r} already exists: open it from the list to edit it")]
    return []
