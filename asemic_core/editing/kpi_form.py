"""The KPI editor's form (axes as checkboxes, template as a choice and a list); to and
from ``Kpi``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from asemic_core.config.models import Kpi
from asemic_core.editing.form_issues import form_issue, model_issues, unless_known
from asemic_core.editing.form_literals import clean_text
from asemic_core.issues import Issue
from asemic_core.semantic.kpi_totals import suggested_total_function

AXES = ("date", "cohort_day")


def new_kpi_form(file: str | None = None) -> dict:
    return {
        "id": "", "original_id": None, "file": file, "label": "", "description": "", "select": "", "where": "",
        "axes": {"date": True, "cohort_day": False}, "axis_totals": {"date": "", "cohort_day": ""},
        "axis_names": {"date": "date", "cohort_day": "cohort_day"}, "total_function": "",
        "unit_symbol": "", "unit_prefix": False, "template": "none", "template_values": "",
    }


def kpi_form(kpi_id: str, kpi: Kpi, file: str | None, date_aliases: set[str] = frozenset()) -> dict:
    form = new_kpi_form(file)
    form.update(id=kpi_id, original_id=kpi_id, label=kpi.label or "", description=kpi.description or "",
                select=kpi.select, where=kpi.where or "", total_function=kpi.total_function or "")
    form["axes"] = {"date": False, "cohort_day": False}
    for name, axis in kpi.x_axis.items():
        role = "cohort_day" if name == "cohort_day" else "date" if (name == "date" or name in date_aliases) else None
        if role is None:
            continue
        form["axes"][role] = True
        form["axis_totals"][role] = axis.total_function or ""
        form["axis_names"][role] = name
    if kpi.unit is not None:
        form["unit_symbol"], form["unit_prefix"] = kpi.unit.symbol, kpi.unit.is_prefix
    if kpi.template == "cohort_day":
        form["template"] = "cohort_day"
    elif isinstance(kpi.template, list):
        form["template"] = "list"
        form["template_values"] = template_text(kpi.template)
    return form


def template_text(values: list) -> str:
    """Template values as typed in the form: text that reads as a number is quoted."""
    return ", ".join(f"'{v}'" if isinstance(v, str) and re.fullmatch(r"-?\d+", v) else str(v) for v in values)


def template_list(text: str) -> list[int | str]:
    """The values of a "1, 7, 'ios'" text: numbers are numbers unless quoted."""
    values: list[int | str] = []
    for part in (text or "").split(","):
        part = part.strip()
        if len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
            values.append(part[1:-1])
        elif part:
            values.append(int(part) if re.fullmatch(r"-?\d+", part) else part)
    return values


def kpi_data(form: dict) -> dict:
    data: dict[str, Any] = {}
    if clean_text(form.get("select")):
        data["select"] = clean_text(form["select"])
    axes = {}
    for role in AXES:
        if form["axes"].get(role):
            total = form["axis_totals"].get(role)
            axes[form["axis_names"].get(role) or role] = {"total_function": total} if total else {}
    data["x_axis"] = axes
    if clean_text(form.get("where")):
        data["where"] = clean_text(form["where"])
    for name in ("label", "description"):
        if clean_text(form.get(name)):
            data[name] = clean_text(form[name])
    if clean_text(form.get("unit_symbol")):  # kept as typed: " min" puts a space before the unit
        data["unit"] = {"symbol": form["unit_symbol"], "is_prefix": bool(form.get("unit_prefix"))}
    if form.get("total_function"):
        data["total_function"] = form["total_function"]
    elif suggested := suggested_default_total(form):
        data["total_function"] = suggested
    if form.get("template") == "cohort_day":
        data["template"] = "cohort_day"
    elif form.get("template") == "list":
        data["template"] = template_list(form.get("template_values") or "")
    return data


def suggested_default_total(form: dict) -> str | None:
    """The total function a new KPI is saved with when its form leaves every total at the
    default: ``avg`` for a ratio (ARPDAU, retention %), whose weeks and months average its
    daily values instead of adding them up; None where the default (sum) fits."""
    if form.get("total_function") or form.get("original_id") is not None:
        return None
    if any(form["axis_totals"].get(r) for r in AXES if form["axes"].get(r)):
        return None
    return suggested_total_function(clean_text(form.get("select")))


def kpi_from_form(form: dict) -> tuple[Kpi | None, list[Issue]]:
    object_id = (form.get("id") or "").strip()
    data = kpi_data(form)
    issues: list[Issue] = []
    if not data["x_axis"]:
        issues.append(form_issue(object_id, "x_axis", "choose at least one x axis (date or cohort_day)"))
    if form.get("template") == "list" and not data.get("template"):
        issues.append(form_issue(object_id, "template", "list the template values, separated by commas"))
    try:
        model = Kpi.model_validate(data)
    except ValidationError as err:
        return None, issues + unless_known(model_issues(err, object_id), issues)
    return (None, issues) if issues else (model, [])
