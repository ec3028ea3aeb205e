"""What the warehouse knows about a draft before it is saved: the dry run's compile errors
and type checks of the project with the draft in it, and the data type a property's
definition produces (the type the editor offers by default).

The checks are the validation layer's own (``asemic_core.validation.dry_run`` and
``asemic_core.validation.data_types``), run on the draft's files; nothing is executed.
"""

from __future__ import annotations

from pathlib import Path

from asemic_core.config.loader import ProjectFiles
from asemic_core.config.models import DataType
from asemic_core.engine import annotate_row_order
from asemic_core.errors import WarehouseError
from asemic_core.issues import Issue
from asemic_core.query.draft_preview import Draft, draft_files
from asemic_core.semantic.model import ResolvedProject, ResolvedProperty
from asemic_core.semantic.resolve import resolve
from asemic_core.sql.expressions import ExpressionError
from asemic_core.sql.render import render
from asemic_core.sql.sources import event_properties_query
from asemic_core.validation.data_types import window_result_type
from asemic_core.validation.dry_run import _DryRun, open_warehouse, run_dry_run
from asemic_core.warehouse import Warehouse, data_type_of


def _checkable(warehouse_path, settings) -> bool:
    """Whether drafts can be compiled: on Spark (a Spark project), or with DuckDB over a
    warehouse file or a local Parquet directory."""
    if settings is not None and settings.spark is not None:
        return warehouse_path is not None
    return warehouse_path is not None and (Path(warehouse_path).is_file() or Path(warehouse_path).is_dir())


def draft_dry_run(files: ProjectFiles, warehouse_path: Path | None, draft: Draft,
                  static_issues: list[Issue], settings=None) -> list[Issue]:
    """Dry-run issues of the project with the draft in it: those of the draft itself, and
    those it causes elsewhere that the saved project does not have. ``static_issues`` are
    the draft's static issues (objects they already explain are not compiled again).
    ``settings`` (EngineSettings): on a Spark project the draft is compiled on Spark."""
    if not _checkable(warehouse_path, settings):
        return []
    before = set(run_dry_run(files, warehouse_path, [], settings).issues)
    after = run_dry_run(draft_files(files, draft), warehouse_path, static_issues, settings).issues
    return [i for i in after if i.object_id == draft.id or (i.is_error and i not in before)]


def produced_data_type(files: ProjectFiles, warehouse_path: Path | None, draft: Draft,
                       settings=None) -> DataType | None:
    """The data type a property draft's definition produces (None when it cannot be told:
    the draft does not compile, or the warehouse cannot be read)."""
    if draft.kind != "property" or not _checkable(warehouse_path, settings):
        return None
    files = draft_files(files, draft)
    project = resolve(files)
    prop = project.properties.get(draft.id)
    if prop is None:
        return None
    try:
        with open_warehouse(warehouse_path, settings) as warehouse:
            if isinstance(warehouse, Warehouse):
                annotate_row_order(warehouse.con, project)
            return _produced(_DryRun(files, project, warehouse, []), project, prop, depth=0)
    except WarehouseError:
        return None


def _produced(run: _DryRun, project: ResolvedProject, prop: ResolvedProperty, depth: int) -> DataType | None:
    if depth > 20:
        return None
    definition = prop.definition
    try:
        if prop.kind == "event_property":
            if prop.source_event not in project.events:
                return None
            sql = render(event_properties_query(project, prop.source_event, [prop], typed=False))
        elif prop.kind == "computed_property":
            if definition.value_mappings:
                return None  # the value is a mapped literal: its type is the declared one
            from sqlglot import exp

            from asemic_core.sql.expressions import parse_expression, to_tree
            from asemic_core.sql.render import ENGINE_DIALECT

            tree = to_tree(parse_expression(definition.select, allow_aggregates=False), run._property_column,
                           dialect=ENGINE_DIALECT)
            sql = render(exp.select(exp.alias_(tree, prop.id, quoted=True)).from_(run._null_row()))
        elif prop.source is not None:
            source = project.properties.get(prop.source)
            if source is None:
                return None
            source_type = _produced(run, project, source, depth + 1) if source.hidden else source.data_type
            function = getattr(definition, "window_function", None) or getattr(definition, "merge_function", None)
            return window_result_type(function, source_type) if source_type is not None and function else None
        else:
            return None
    except (ExpressionError, KeyError):
        return None
    produced = run.warehouse.describe(sql).get(prop.id)
    return data_type_of(produced) if produced and produced.upper() != "NULL" else None
