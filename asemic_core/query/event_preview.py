"""The preview of an event-table draft: the first rows of its warehouse table as the draft
reads them (its declared columns, its ``where`` applied), and how many rows pass."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from sqlglot import exp

from asemic_core.config.draft import draft_target, write_draft_copy
from asemic_core.config.loader import load_project
from asemic_core.errors import AsemicError, ConfigError
from asemic_core.names import quoted_table
from asemic_core.semantic.resolve import resolve
from asemic_core.sql.expressions import ExpressionError
from asemic_core.sql.render import render
from asemic_core.sql.sources import ROW_ALIAS, table_rows
from asemic_core.warehouse import Warehouse


@dataclass
class EventSample:
    rows: pl.DataFrame | None = None  # the first rows, declared columns only
    matching: int | None = None  # rows that pass the draft's where
    total: int | None = None  # rows of the warehouse table
    problem: str | None = None  # why there are no rows to show


def event_draft_sample(root: Path, warehouse_path: Path | None, event_id: str, data: dict,
                       limit: int = 20) -> EventSample:
    """The rows event table ``event_id`` would read with ``data`` (plain YAML data) saved."""
    if warehouse_path is None or not (Path(warehouse_path).is_file() or Path(warehouse_path).is_dir()):
        return EventSample(problem="the warehouse is not reachable (the studio reads a DuckDB file or a local "
                                   "Parquet directory)")
    with tempfile.TemporaryDirectory(prefix="asemic-event-preview-") as scratch:
        try:
            copy = write_draft_copy(Path(root), Path(scratch), draft_target(Path(root), event_id), data)
        except ConfigError as err:
            return EventSample(problem=err.message)
        project = resolve(load_project(copy))
    event = project.events.get(event_id)
    if event is None:
        return EventSample(problem=f"{event_id!r} cannot be read as an event table yet")
    try:
        rows = table_rows(event, project)
        columns = [exp.column(name, table=ROW_ALIAS, quoted=True) for name in event.columns if "." not in name]
        shown = exp.select(*(columns or [exp.Star()])).from_(exp.Subquery(this=rows).as_(ROW_ALIAS)).limit(limit)
        counted = exp.select(exp.Count(this=exp.Star())).from_(exp.Subquery(this=rows).as_(ROW_ALIAS))
        everything = exp.select(exp.Count(this=exp.Star())).from_(quoted_table(event.table_name))
        with Warehouse(Path(warehouse_path)) as warehouse:
            sample = warehouse.con.sql(render(shown)).pl()
            matching = warehouse.con.execute(render(counted)).fetchall()[0][0]
            total = warehouse.con.execute(render(everything)).fetchall()[0][0]
    except (ExpressionError, KeyError) as err:
        return EventSample(problem=f"the where cannot be compiled: {getattr(err, 'message', None) or err}")
    except duckdb.Error as err:
        return EventSample(problem=f"the table cannot be read: {str(err).splitlines()[0]}")
    except AsemicError as err:
        return EventSample(problem=err.message)
    return EventSample(sample, matching, total)
