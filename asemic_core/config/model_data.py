"""Config models as plain YAML data (the per-kind rendering): the model's field order,
canonical key names, plain scalars; what the writer puts into a file."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel

from asemic_core.config.yaml_io import plain_scalar


# ----------------------------------------------------------------------- model -> data


def to_yaml_data(model: BaseModel) -> dict[str, Any]:
    """Plain data of a config model, in the model's field order, canonical key names.

    Only fields the model was given are written (``exclude_unset``); a field set to
    ``None`` whose default is ``None`` is left out too (it means "absent"). Enums become
    their values, ``ValueRange.from_`` becomes ``from``; dates stay ``datetime.date``
    (YAML writes them as ISO dates).
    """
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        if name not in model.model_fields_set:
            continue
        value = getattr(model, name)
        if value is None and info.default is None:
            continue
        key = info.alias if (name.endswith("_") and info.alias) else name
        out[key] = plain_value(value)
    return out


def plain_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return to_yaml_data(value)
    if isinstance(value, enum.Enum):
        return plain_value(value.value)
    if isinstance(value, dict):
        return {plain_value(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return plain_scalar(value)
