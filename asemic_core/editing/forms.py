"""The editors' forms: the plain data behind the Properties and KPIs pages.

An editor keeps a *form*: a JSON-like dict of what the analyst typed. ``property_from_form``
/ ``kpi_from_form`` turn it into a config model, or into issues whose ``field`` paths are
those validation uses, so the app shows each problem next to the field that causes it.
Nothing here knows about Streamlit. This module gathers the verbs the pages use.
"""

from __future__ import annotations

from pydantic import BaseModel

from asemic_core.editing.form_issues import REQUIRED, id_issues, model_issues, untouched_required
from asemic_core.editing.kpi_form import (
    AXES,
    kpi_data,
    kpi_form,
    kpi_from_form,
    new_kpi_form,
    suggested_default_total,
    template_list,
    template_text,
)
from asemic_core.editing.form_literals import MAPPING_COLUMNS, format_literal, mapping_rows, mappings_data, parse_literal
from asemic_core.editing.property_form import (
    SOURCE_MODES,
    SOURCED_KINDS,
    new_property_form,
    property_data,
    property_form,
    property_from_form,
)
from asemic_core.editing.target_files import collection_files, default_kpi_file, default_property_file
from asemic_core.semantic.resolve_properties import default_label

__all__ = [
    "AXES", "MAPPING_COLUMNS", "REQUIRED", "SOURCED_KINDS", "SOURCE_MODES", "collection_files", "default_kpi_file",
    "default_label", "default_property_file", "format_literal", "id_issues", "kpi_data", "kpi_form",
    "kpi_from_form", "mapping_rows", "mappings_data", "model_issues", "model_json", "new_kpi_form",
    "new_property_form", "parse_literal", "property_data", "property_form", "property_from_form",
    "suggested_default_total", "template_list", "template_text", "untouched_required",
]


def model_json(model: BaseModel) -> str:
    """A stable text of a model (a cache key)."""
    return model.model_dump_json(by_alias=True, exclude_unset=True)
