"""Does a property's declared ``data_type`` hold what its definition produces?

Rules (the same as for event-table columns): a value may be declared as its own type;
an INTEGER value may also be declared NUMBER (every whole number is a number). A NUMBER
declared INTEGER would lose its fractions, a DATETIME declared DATE its time, and any
other pair is a different kind of value: those are errors on the ``data_type`` field.
"""

from __future__ import annotations

from asemic_core.config.models import DataType
from asemic_core.issues import Issue
from asemic_core.semantic.model import ResolvedProject, ResolvedProperty
from asemic_core.validation.context import issue_at
from asemic_core.warehouse import COMPATIBLE, data_type_of

# Window and lifetime functions: the type of the result given the source's type.
_COUNTS = {"count", "count_distinct"}


def fits(declared: DataType, produced: DataType) -> bool:
    return produced in COMPATIBLE[declared]


def window_result_type(function: str, source: DataType) -> DataType:
    if function in _COUNTS:
        return DataType.INTEGER
    if function == "avg":
        return DataType.NUMBER
    return source  # sum, min, max, first_value, last_value keep the source's type


def _declared(prop: ResolvedProperty, project: ResolvedProject) -> tuple[ResolvedProperty, DataType, str] | None:
    """(the property whose data_type field is at stake, the type its value must fit, what
    produces the value). An inline source without a data_type of its own takes its type
    from its parent: the parent's field is then the one at fault."""
    if not prop.hidden:
        return prop, prop.data_type, prop.kind.replace("_", " ")
    parent = project.properties.get(prop.parent or "")
    if parent is None or getattr(prop.definition, "data_type", None) is not None:
        return prop, prop.data_type, "inline source"
    function = getattr(parent.definition, "window_function", None) or getattr(parent.definition, "merge_function", None)
    if function in _COUNTS:
        return None  # a count holds values of any type
    return parent, prop.data_type, f"{parent.kind.split('_property')[0].replace('_', ' ')} source"


def produced_type_issue(project: ResolvedProject, prop: ResolvedProperty, warehouse_type: str | None) -> Issue | None:
    """An issue when the DuckDB type of ``prop``'s value does not fit its data_type."""
    target = _declared(prop, project)
    if target is None or warehouse_type is None or warehouse_type.upper() == "NULL":
        return None  # NULL fits every type
    owner, declared, what = target
    produced = data_type_of(warehouse_type)
    object_id = owner.parent or owner.id
    if produced is None:
        message = (f"data_type is {declared.value}, but the {what} produces {warehouse_type}, which is none of "
                   f"{', '.join(t.value for t in DataType)}")
    elif fits(declared, produced):
        return None
    else:
        message = (f"data_type is {declared.value}, but the {what} produces {produced.value} ({warehouse_type}): "
                   f"declare data_type: {produced.value}, or convert the value (e.g. with CAST)")
    return issue_at(owner.located, message, "data_type", object_id=object_id, rule="data-type")
