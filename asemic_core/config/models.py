"""Pydantic models of the configuration files, exactly as written by the analyst.

Strict: an unknown key is an error. Legacy Asemic names load as aliases
(``action_property``, ``source_action``, ``first_appearance_property``,
``source_action_property``); the canonical name is used when asemic writes a new object.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from asemic_core.config.deployment import (  # noqa: F401 - asemic.yml's models, re-exported
    SPARK_MASTER_PATTERN,
    DeploymentConfig,
    EngineConfig,
    ModelStorageConfig,
    WarehouseConfig,
)
from asemic_core.config.strict import StrictModel
from asemic_core.names import check_dotted_name, check_name


def _expression_text(value: Any) -> Any:
    # YAML reads `select: 1` as an int; an expression is always text.
    if isinstance(value, dict) and len(value) == 1 and next(iter(value.values())) is None:
        name = next(iter(value))
        raise ValueError(
            f"expected an expression, but YAML read {{{name}}} as a mapping: quote it, e.g. '{{{name}}}'"
        )
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return value


# The JSON Schema accepts what the validator accepts (`select: 1` is a valid expression).
Expression = Annotated[
    str, BeforeValidator(_expression_text, json_schema_input_type=str | int | float | bool), Field(min_length=1)
]
# Names that reach SQL follow the one rule of asemic_core.names (the error suggests a fix);
# the pattern is repeated in the JSON Schema for editors.
Identifier = Annotated[str, AfterValidator(check_name),
                       Field(json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"})]
# Column ids of wide event tables may carry a dotted sub-schema: `level_started.level`.
ColumnId = Annotated[str, AfterValidator(check_dotted_name),
                     Field(json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"})]


class DataType(str, enum.Enum):
    NUMBER = "NUMBER"
    INTEGER = "INTEGER"
    STRING = "STRING"
    DATE = "DATE"
    DATETIME = "DATETIME"
    BOOLEAN = "BOOLEAN"


# ------------------------------------------------------------------ userentity/config.yml

DURATION_RE = re.compile(r"^\s*(\d+)\s*(m|h|d)\s*$")


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION_RE.match(text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number followed by m, h or d (e.g. 30m, 6h, 1d)")
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise ValueError(f"invalid duration {text!r}: must be positive")
    return {"m": dt.timedelta(minutes=amount), "h": dt.timedelta(hours=amount), "d": dt.timedelta(days=amount)}[unit]


class ModelSettings(StrictModel):
    incremental_update_frequency: str = "1d"
    lookback_days: int = Field(default=0, ge=0)
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    @field_validator("incremental_update_frequency", mode="before")
    @classmethod
    def _check_duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            parse_duration(value)
        return value

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _strict_iso_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"invalid date {value!r}: use YYYY-MM-DD") from None
        if isinstance(value, dt.datetime):
            raise ValueError("expected a date (YYYY-MM-DD), not a timestamp")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ModelSettings:
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError(f"start_date {self.start_date} is after end_date {self.end_date}")
        return self

    @property
    def update_frequency(self) -> dt.timedelta:
        return parse_duration(self.incremental_update_frequency)


class EntityConfig(StrictModel):
    """``userentity/config.yml``."""

    data_model_schema: Identifier | None = None
    base_table_prefix: Annotated[str, AfterValidator(lambda v: check_dotted_name(v, max_parts=2))] | None = Field(
        default=None, description="2024 Asemic name: `schema.prefix`")
    cohorted_daily_kpis_days: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    active_days: int = Field(gt=0)
    data_model_version: Any = None
    model_settings: ModelSettings = Field(default_factory=ModelSettings)

    @model_validator(mode="after")
    def _schema_named(self) -> EntityConfig:
        if self.data_model_schema is None and self.base_table_prefix is None:
            raise ValueError("missing required field 'data_model_schema'")
        return self

    @property
    def model_schema(self) -> str:
        """Where the generated tables live (the 2024 `base_table_prefix` names `schema.prefix`)."""
        if self.data_model_schema:
            return self.data_model_schema
        return (self.base_table_prefix or "").split(".")[0]


# ------------------------------------------------------------------------- events

COLUMN_TAGS = (
    "entity_id_column",
    "event_timestamp_column",
    "date_column",
    "registration_property",
    "transaction_amount_column",
)
TABLE_TAGS = ("registration_event", "activity_event", "payment_transaction_event")
# The implicit tables: the union of the tables tagged registration_event / activity_event.
# Their ids are reserved (SEMANTICS 3).
REGISTRATIONS = "entity_registrations"
ACTIVITY = "entity_activity"

# Tag names of the 2024 Asemic layout, read as today's names.
_COLUMN_TAG_ALIASES = {
    "first_appearance_property": "registration_property",
    "event_date_column": "date_column",
    "action_timestamp_column": "event_timestamp_column",
}
_TABLE_TAG_ALIASES = {
    "first_appearance_event": "registration_event",
    "first_appearance_action": "registration_event",
    "registration_action": "registration_event",
    "activity_action": "activity_event",
    "payment_transaction_action": "payment_transaction_event",
}


def _alias_tags(aliases: dict[str, str]):
    def convert(value: Any) -> Any:
        if isinstance(value, list):
            return [aliases.get(v, v) if isinstance(v, str) else v for v in value]
        return value

    return convert


class EventColumn(StrictModel):
    data_type: DataType
    label: str | None = None
    description: str | None = None
    # Unknown tags (generator hints of older Asemic versions) load; validation warns.
    tags: Annotated[list[str], BeforeValidator(_alias_tags(_COLUMN_TAG_ALIASES))] = Field(default_factory=list)
    can_filter: bool | None = Field(default=None, description="accepted from older Asemic files; no effect")
    can_group_by: bool | None = Field(default=None, description="accepted from older Asemic files; no effect")


class ListedEventColumn(EventColumn):
    """A column in the list form of older Asemic files: ``- {id: x, data_type: ...}``."""

    id: ColumnId


class EnrichmentJoin(StrictModel):
    source: str
    target: str


class Enrichment(StrictModel):
    logical_table: str
    on: list[EnrichmentJoin] = Field(min_length=1)


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# `table`, `schema.table` or `project.dataset.table`; a BigQuery project id may hold hyphens.
TABLE_NAME_RE = re.compile(rf"^(?:(?:[A-Za-z][A-Za-z0-9_-]*\.)?{_NAME}\.)?{_NAME}$")


def _check_table_name(value: Any) -> Any:
    if isinstance(value, str) and not TABLE_NAME_RE.match(value):
        raise ValueError(
            f"invalid table_name {value!r}: write table, schema.table or project.dataset.table (names of letters, "
            "digits and _, not starting with a digit; a project id may also hold hyphens, e.g. "
            "my-game-prod.analytics.events)")
    return value


TableName = Annotated[str, AfterValidator(_check_table_name),
                      Field(json_schema_extra={"pattern": TABLE_NAME_RE.pattern})]


class EventTable(StrictModel):
    """``userentity/events/<id>.yml`` (``actions/`` in the 2024 layout)."""

    table_name: TableName
    columns: dict[ColumnId, EventColumn] = Field(min_length=1)
    tags: Annotated[list[str], BeforeValidator(_alias_tags(_TABLE_TAG_ALIASES))] = Field(default_factory=list)
    label: str | None = None
    description: str | None = None
    where: Expression | None = None
    enrichments: list[Enrichment] = Field(default_factory=list)
    computed_columns: Annotated[list[Any], Field(max_length=0)] = Field(
        default_factory=list, description="accepted (empty) from older Asemic files"
    )

    @field_validator(
        "columns", mode="before", json_schema_input_type=dict[ColumnId, EventColumn] | list[ListedEventColumn]
    )
    @classmethod
    def _columns_as_list(cls, value: Any) -> Any:
        # Older Asemic files list columns as `- {id: x, data_type: ..., tags: [...]}`.
        if isinstance(value, list) and all(isinstance(item, dict) and "id" in item for item in value):
            return {item["id"]: {k: v for k, v in item.items() if k != "id"} for item in value}
        return value

    def columns_tagged(self, tag: str) -> list[str]:
        return [name for name, column in self.columns.items() if tag in column.tags]


# --------------------------------------------------------------------- properties

AggregateFunction = Literal[
    "count", "count_distinct", "sum", "avg", "min", "max", "first_value", "last_value", "none"
]
WindowFunction = Literal["sum", "avg", "count", "count_distinct", "min", "max"]
MergeFunction = Literal["sum", "min", "max", "first_value", "last_value"]
TotalFunction = Literal["sum", "avg", "count", "min", "max"]


class EventPropertyDef(StrictModel):
    source_event: str = Field(validation_alias=AliasChoices("source_event", "source_action"))
    select: Expression
    aggregate_function: AggregateFunction
    where: Expression | None = None
    default_value: Any = None
    data_type: DataType | None = Field(default=None, description="type of an inline source (optional)")


class RegistrationPropertyDef(StrictModel):
    source_column: ColumnId | None = None


class ValueRange(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_by_name=True)
    from_: Any = Field(default=None, alias="from")
    to: Any = None


class ValueMapping(StrictModel):
    constant: Any = None
    range: ValueRange | None = None
    new_value: Any

    @model_validator(mode="after")
    def _one_matcher(self) -> ValueMapping:
        has_constant = "constant" in self.model_fields_set
        has_range = self.range is not None
        if has_constant == has_range:
            raise ValueError("a value mapping needs exactly one of 'constant' or 'range'")
        return self


class ComputedPropertyDef(StrictModel):
    select: Expression
    value_mappings: list[ValueMapping] | None = None
    data_type: DataType | None = Field(default=None, description="type of an inline source (optional)")


class _SourcedDef(StrictModel):
    source_property: str | None = None
    source_computed_property: ComputedPropertyDef | None = None
    source_event_property: EventPropertyDef | None = Field(
        default=None, validation_alias=AliasChoices("source_event_property", "source_action_property")
    )

    @model_validator(mode="after")
    def _one_source(self) -> _SourcedDef:
        given = [
            name
            for name in ("source_property", "source_computed_property", "source_event_property")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            listed = ", ".join(given) if given else "none"
            raise ValueError(
                "needs exactly one source: source_property, source_computed_property or "
                f"source_event_property (given: {listed})"
            )
        return self


class SlidingWindowDef(_SourcedDef):
    window_function: WindowFunction = Field(validation_alias=AliasChoices("window_function", "sliding_window_function"))
    relative_days_from: int
    relative_days_to: int


class FixedWindowDef(_SourcedDef):
    window_function: WindowFunction
    date_from: dt.date
    date_to: dt.date


class LifetimeDef(_SourcedDef):
    merge_function: MergeFunction


PROPERTY_KINDS: tuple[str, ...] = (
    "event_property",
    "registration_property",
    "computed_property",
    "sliding_window_property",
    "fixed_window_property",
    "lifetime_property",
)

PropertyKindDef = (
    EventPropertyDef | RegistrationPropertyDef | ComputedPropertyDef | SlidingWindowDef | FixedWindowDef | LifetimeDef
)


class Property(StrictModel):
    """One entry under ``properties:``; exactly one kind field is set."""

    data_type: DataType
    label: str | None = None
    description: str | None = None
    can_filter: bool = True
    can_group_by: bool = False
    event_property: EventPropertyDef | None = Field(
        default=None, validation_alias=AliasChoices("event_property", "action_property")
    )
    registration_property: RegistrationPropertyDef | None = Field(
        default=None, validation_alias=AliasChoices("registration_property", "first_appearance_property")
    )
    computed_property: ComputedPropertyDef | None = None
    sliding_window_property: SlidingWindowDef | None = None
    fixed_window_property: FixedWindowDef | None = None
    lifetime_property: LifetimeDef | None = None

    @field_validator("registration_property", mode="before")
    @classmethod
    def _empty_registration(cls, value: Any) -> Any:
        # `registration_property: {}` and a bare `registration_property:` both mean "defaults".
        return {} if value is None else value

    @model_validator(mode="before")
    @classmethod
    def _keep_bare_registration(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("registration_property", "first_appearance_property"):
                if key in data and data[key] is None:
                    data = {**data, key: {}}
        return data

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Property:
        kinds = self.kinds_given()
        if len(kinds) != 1:
            listed = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"a property needs exactly one kind of {', '.join(PROPERTY_KINDS)} (given: {listed})")
        return self

    def kinds_given(self) -> list[str]:
        return [kind for kind in PROPERTY_KINDS if getattr(self, kind) is not None]

    @property
    def kind(self) -> str:
        return self.kinds_given()[0]

    @property
    def definition(self) -> PropertyKindDef:
        return getattr(self, self.kind)


# --------------------------------------------------------------------------- KPIs


class KpiAxis(StrictModel):
    total_function: TotalFunction | None = None


class Unit(StrictModel):
    symbol: str
    is_prefix: bool = False


# `date` and `cohort_day`; real configs also key the date axis by the registration
# tables' own date column name (e.g. `_date`), which resolution reads as `date`.
XAxisName = Identifier


class Kpi(StrictModel):
    """One entry under ``kpis:``."""

    select: Expression
    x_axis: dict[XAxisName, KpiAxis] = Field(min_length=1)
    where: Expression | None = None
    label: str | None = None
    description: str | None = None
    unit: Unit | None = None
    total_function: TotalFunction | None = None
    template: Literal["cohort_day"] | Annotated[list[int | str], Field(min_length=1)] | None = None

    @field_validator("x_axis", mode="before")
    @classmethod
    def _bare_axes(cls, value: Any) -> Any:
        # `x_axis: {date: }` (null body) is common in hand-written files.
        if isinstance(value, dict):
            return {key: ({} if body is None else body) for key, body in value.items()}
        return value


# ------------------------------------------------------------------- file shapes


class PropertiesFile(StrictModel):
    properties: dict[str, Property] = Field(default_factory=dict)


class KpisFile(StrictModel):
    kpis: dict[str, Kpi] = Field(default_factory=dict)


FILE_KINDS: dict[str, type[BaseModel]] = {
    "asemic": DeploymentConfig,
    "entity": EntityConfig,
    "event": EventTable,
    "properties": PropertiesFile,
    "kpis": KpisFile,
}
