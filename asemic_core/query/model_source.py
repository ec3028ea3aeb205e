"""Where query rows come from: the materialized partitions for columns that are fresh,
computed on the fly from the events for columns that are new or changed since the
last job (ad hoc), joined on (entity_id, date)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from asemic_core.engine import source_day_range, warehouse_connection
from asemic_core.errors import AsemicError, WarehouseError
from asemic_core.names import quote_name, quote_names, sql_string_list
from asemic_core.semantic.hashing import definition_hashes
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
from asemic_core.sql.render import ENGINE_DIALECT, render
from asemic_core.sql.types import sql_type
from asemic_core.storage.store import DAILY, ModelStore

KEYS = ("entity_id", "date")


@dataclass
class SourcePlan:
    stored: list[str]
    adhoc: list[str]
    day_from: dt.date
    day_to: dt.date
    files: list[str]


class ModelSource:
    """A read-only view of one project's model; one warehouse connection, reused."""

    def __init__(self, resolved: ResolvedProject, store: ModelStore, warehouse_path) -> None:
        self.resolved = resolved
        self.store = store
        self.warehouse_path = warehouse_path
        self.hashes = definition_hashes(resolved)
        self._con: duckdb.DuckDBPyConnection | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = warehouse_connection(self.warehouse_path, project=self.resolved)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def fresh_columns(self) -> set[str]:
        _parts, columns = self.store.snapshot(DAILY)
        return {name for name, state in columns.items() if self.hashes.get(name) == state.def_hash}

    def available_range(self) -> tuple[dt.date, dt.date]:
        """Materialized days if a model exists, else the days the sources hold."""
        parts, _columns = self.store.snapshot(DAILY)
        if parts:
            return dt.date.fromisoformat(parts[0].day), dt.date.fromisoformat(parts[-1].day)
        day_range = source_day_range(self.con, self.resolved)
        if day_range is None:
            raise AsemicError("the event tables hold no registrations or no activity yet")
        return day_range

    def plan(self, columns: list[str], day_from: dt.date | None, day_to: dt.date | None) -> SourcePlan:
        parts, states = self.store.snapshot(DAILY)
        first, last = self.available_range()
        day_from = max(day_from or first, first)
        day_to = min(day_to or last, last)
        wanted = [c for c in dict.fromkeys(columns) if c not in KEYS]
        stored, adhoc = [], []
        for name in wanted:
            state = states.get(name)
            if parts and state is not None and state.def_hash == self.hashes.get(name):
                stored.append(name)
            else:
                adhoc.append(name)
        files = [str(self.store.root / p.path / "*.parquet") for p in parts
                 if day_from.isoformat() <= p.day <= day_to.isoformat()]
        return SourcePlan(stored, adhoc, day_from, day_to, files)

    def relation_sql(self, plan: SourcePlan, user_filter=None) -> str:
        """SQL of a relation with entity_id, date and the planned columns."""
        parts = []
        if plan.files or not plan.adhoc:
            listed = sql_string_list(plan.files) if plan.files else None
            cols = quote_names([*KEYS, *plan.stored])
            if listed is None:  # no materialized day in the range: an empty relation of the same shape
                nulls = ", ".join([f'CAST(NULL AS {sql_type(self.resolved.properties["entity_id"].data_type).sql(ENGINE_DIALECT)}) AS entity_id',
                                   "CAST(NULL AS DATE) AS date"] +
                                  [f'CAST(NULL AS {sql_type(self.resolved.properties[c].data_type).sql(ENGINE_DIALECT)}) AS {quote_name(c)}'
                                   for c in plan.stored])
                return f"SELECT {nulls} WHERE false"
            stored_sql = f"SELECT {cols} FROM read_parquet({listed})"
            parts.append(stored_sql)
        if plan.adhoc:
            request = ModelRequest(properties=plan.adhoc, day_from=plan.day_from, day_to=plan.day_to,
                                   user_filter=user_filter)
            adhoc_sql = render(ModelQueryBuilder(self.resolved).build(request))
            if not parts:
                return adhoc_sql
            extra = quote_names(plan.adhoc, "a")
            return (f"SELECT s.*, {extra} FROM ({parts[0]}) AS s JOIN ({adhoc_sql}) AS a "
                    f"ON s.entity_id = a.entity_id AND s.date = a.date")
        return parts[0]

    def run_many(self, build_sqls):
        """Run the SQL statements ``build_sqls()`` returns, all on one snapshot of the model.

        They are planned together, so they read the same partition files; if a job swaps
        partitions in between and a file is gone, all of them are planned and run again.
        """
        for attempt in (1, 2):
            statements = build_sqls()
            try:
                return [self.con.sql(sql).pl() for sql in statements], statements
            except duckdb.IOException:
                if attempt == 2:
                    raise
            except duckdb.Error as err:
                raise WarehouseError(f"query failed: {str(err).splitlines()[0]}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def run(self, build_sql):
        """Run the SQL ``build_sql()`` returns, as a polars frame (see ``run_many``)."""
        frames, statements = self.run_many(lambda: [build_sql()])
        return frames[0], statements[0]
