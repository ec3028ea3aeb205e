"""Resolved objects: what every other part of asemic works with.

The config models describe what the analyst wrote; these describe what it means once
aliases, templates, implicit tables, base properties and inline sources are resolved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from asemic_core.config.loader import Located
# ACTIVITY and REGISTRATIONS, the implicit tables' ids, are defined with the config and used here.
from asemic_core.config.models import ACTIVITY, REGISTRATIONS, DataType, EntityConfig, PropertyKindDef  # noqa: F401


@dataclass
class ResolvedEvent:
    id: str
    columns: dict[str, DataType]
    table_name: str | None = None  # None for the implicit tables
    entity_id_column: str | None = None
    timestamp_column: str | None = None
    date_column: str | None = None
    where: str | None = None
    tags: tuple[str, ...] = ()
    registration_columns: tuple[str, ...] = ()
    located: Located | None = None
    # Implicit tables also answer to the source tables' own names of their columns
    # (real configs write `{_date}` or `source_column: event_date`).
    column_aliases: dict[str, str] = field(default_factory=dict)
    # The warehouse's own row order (DuckDB tables: "rowid"; views have none), which breaks
    # ties between events at the same timestamp. Set from the warehouse by the engine.
    row_order_column: str | None = None

    @property
    def implicit(self) -> bool:
        return self.table_name is None

    def column(self, name: str) -> str | None:
        """The column ``name`` refers to (through aliases), or None."""
        name = self.column_aliases.get(name, name)
        return name if name in self.columns or name == "date" else None


BASE_KINDS = "base"


@dataclass
class ResolvedProperty:
    id: str
    data_type: DataType
    kind: str  # a config kind name (e.g. "event_property") or "base"
    label: str
    description: str | None = None
    can_filter: bool = True
    can_group_by: bool = False
    definition: PropertyKindDef | None = None
    source: str | None = None  # window/lifetime: the (possibly hidden) source property id
    source_event: str | None = None  # event_property: the event it aggregates
    depends_on: tuple[str, ...] = ()  # property ids
    hidden: bool = False  # an inline source (`<id>__inner`)
    parent: str | None = None
    located: Located | None = None
    field_prefix: tuple[str, ...] = ()  # where the definition sits inside the located object

    @property
    def is_base(self) -> bool:
        return self.kind == BASE_KINDS


@dataclass
class Aggregation:
    """One aggregate call of a KPI formula, with the rows it sees."""

    function: str  # sum, avg, count, count_distinct, min, max
    argument: Any  # sqlglot tree over property placeholders (None for COUNT(*))
    properties: tuple[str, ...]
    filters: tuple[Any, ...]  # sqlglot predicates over property placeholders (ANDed)
    population: str  # "all", "active_day", "active_window", "recent" (rule 2)
    origin_kpi: str


@dataclass
class ResolvedKpi:
    id: str
    label: str
    select_text: str
    formula: Any  # sqlglot tree; aggregation i appears as column __agg_<i>
    aggregations: list[Aggregation]
    x_axes: dict[str, str]  # axis -> total function
    where: str | None = None
    description: str | None = None
    unit_symbol: str | None = None
    unit_is_prefix: bool = False
    total_function: str = "sum"
    template_id: str | None = None  # the id as written (`retention_d{}`) when templated
    template_value: Any = None
    kpi_refs: tuple[str, ...] = ()
    property_refs: tuple[str, ...] = ()
    located: Located | None = None


@dataclass
class ResolvedProject:
    entity: EntityConfig | None
    events: dict[str, ResolvedEvent] = field(default_factory=dict)
    properties: dict[str, ResolvedProperty] = field(default_factory=dict)
    kpis: dict[str, ResolvedKpi] = field(default_factory=dict)
    property_aliases: dict[str, str] = field(default_factory=dict)

    def get_property(self, name: str) -> ResolvedProperty | None:
        return self.properties.get(self.property_aliases.get(name, name))

    @property
    def active_days(self) -> int:
        return self.entity.active_days if self.entity else 0

    @property
    def start_date(self) -> dt.date | None:
        return self.entity.model_settings.start_date if self.entity else None
