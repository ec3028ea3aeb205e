"""The physical model generated from a resolved config: tables, columns, types,
partitioning, sort order, views, and their DDL (a description; nothing is created here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from sqlglot import exp

from asemic_core.config.models import DataType
from asemic_core.names import quote_name
from asemic_core.semantic.hashing import definition_hashes
from asemic_core.semantic.model import REGISTRATIONS, ResolvedProject
from asemic_core.semantic.graph import dependency_closure
from asemic_core.sql.render import ENGINE_DIALECT
from asemic_core.sql.types import sql_type
from asemic_core.storage.store import DAILY, USERS


@dataclass
class ColumnSpec:
    name: str
    data_type: str  # config data type
    sql_type: str
    kind: str  # property kind, "base" or "key"
    def_hash: str = ""
    hidden: bool = False
    description: str | None = None


@dataclass
class TableSpec:
    name: str
    description: str
    columns: list[ColumnSpec]
    partitioned_by: str | None
    sorted_by: list[str]
    schema_name: str
    dialect: str

    @cached_property
    def ddl(self) -> str:
        """The table's CREATE statement, for reading (the Schema page): jobs ask for the
        schema's columns several times each and never for this."""
        return _ddl(self.schema_name, self, self.dialect)


@dataclass
class ModelSchema:
    schema: str
    tables: list[TableSpec] = field(default_factory=list)
    views: dict[str, str] = field(default_factory=dict)  # name -> DDL

    def table(self, name: str) -> TableSpec:
        return next(t for t in self.tables if t.name == name)


def daily_columns(project: ResolvedProject) -> list[str]:
    """Every property the daily table stores, dependencies first."""
    return [p for p in dependency_closure(project, list(project.properties), strict=False)
            if p not in ("entity_id", "date")]


def generate_schema(project: ResolvedProject, dialect: str = ENGINE_DIALECT) -> ModelSchema:
    schema_name = project.entity.model_schema if project.entity else "asemic_model"
    hashes = definition_hashes(project)
    key_type = project.properties["entity_id"].data_type
    daily = [
        ColumnSpec("entity_id", key_type.value, _type_sql(key_type, dialect), "key"),
        ColumnSpec("date", "DATE", "DATE", "key"),
    ]
    for name in daily_columns(project):
        prop = project.properties[name]
        daily.append(ColumnSpec(name, prop.data_type.value, _type_sql(prop.data_type, dialect), prop.kind,
                                hashes.get(name, ""), prop.hidden, prop.description))
    registration = project.events[REGISTRATIONS]
    users = [ColumnSpec("entity_id", key_type.value, _type_sql(key_type, dialect), "key"),
             ColumnSpec("registration_ts", "DATETIME", "TIMESTAMP", "base"),
             ColumnSpec("registration_date", "DATE", "DATE", "base")]
    for name, data_type in registration.columns.items():
        if name not in ("entity_id", "ts", "date"):
            users.append(ColumnSpec(name, data_type.value, _type_sql(data_type, dialect), "registration"))
    tables = [
        TableSpec(DAILY, "One row per user and day from registration to the last materialized day; "
                  "each property's value at the end of that day.", daily, "date", ["entity_id"], schema_name, dialect),
        TableSpec(USERS, "One row per registered user: the registration event and its properties.", users, None,
                  ["entity_id"], schema_name, dialect),
    ]
    model = ModelSchema(schema=schema_name, tables=tables)
    for table in tables:
        model.views[table.name] = (f"CREATE VIEW {quote_name(schema_name)}.{quote_name(table.name)} AS SELECT * FROM "
                                   f"read_parquet(<the files of the published {table.name} version>)")
    return model


@lru_cache(maxsize=64)
def _type_sql(data_type: DataType, dialect: str) -> str:
    return sql_type(data_type).sql(dialect)


def _ddl(schema: str, table: TableSpec, dialect: str) -> str:
    create = exp.Create(
        kind="TABLE",
        this=exp.Schema(
            this=exp.Table(this=exp.to_identifier(table.name, quoted=True), db=exp.to_identifier(schema, quoted=True)),
            expressions=[exp.ColumnDef(this=exp.to_identifier(c.name, quoted=True), kind=exp.DataType.build(c.sql_type))
                         for c in table.columns],
        ),
    )
    text = create.sql(dialect=dialect, pretty=True)
    notes = []
    if table.partitioned_by:
        notes.append(f"-- a Delta Lake table partitioned by {table.partitioned_by}: a directory per day, its "
                     "activity days' rows in a part of their own (__active)")
    notes.append(f"-- sorted by {', '.join(table.sorted_by)}")
    return "\n".join(notes + [text + ";"])
