"""Config models: every file kind and field, legacy aliases, unknown keys, JSON Schemas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from asemic_core.cli import main
from asemic_core.config.loader import load_project
from asemic_core.config.models import (
    FILE_KINDS,
    PROPERTY_KINDS,
    ComputedPropertyDef,
    DataType,
    DeploymentConfig,
    EntityConfig,
    EventPropertyDef,
    EventTable,
    FixedWindowDef,
    Kpi,
    KpisFile,
    LifetimeDef,
    ModelSettings,
    PropertiesFile,
    Property,
    RegistrationPropertyDef,
    SlidingWindowDef,
    parse_duration,
)
from asemic_core.config.yaml_io import parse_yaml
from asemic_core.semantic.resolve import resolve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def errors_of(model: type[BaseModel], data) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return info.value.errors(include_url=False)


# --------------------------------------------------------------------------- asemic.yml


def test_deployment_every_field():
    config = DeploymentConfig.model_validate(
        {"name": "game", "warehouse": {"type": "duckdb", "path": "w.duckdb"}, "model": {"path": "out/model"}}
    )
    assert config.name == "game"
    assert config.warehouse.type == "duckdb"
    assert config.warehouse.path == "w.duckdb"
    assert config.model.path == "out/model"


def test_spark_catalog_warehouse_has_no_path():
    config = DeploymentConfig.model_validate({"warehouse": {"type": "spark_catalog"}, "engine": {"type": "spark"}})
    assert (config.warehouse.type, config.warehouse.path) == ("spark_catalog", None)


def test_deployment_defaults():
    config = DeploymentConfig.model_validate({"warehouse": {"path": "w.duckdb"}})
    assert config.name is None
    assert config.warehouse.type == "duckdb"
    assert config.model.path == ".asemic/model"


@pytest.mark.parametrize(
    "data, loc",
    [
        ({}, ("warehouse",)),
        ({"warehouse": {}}, ("warehouse", "path")),
        ({"warehouse": {"path": ""}}, ("warehouse", "path")),
        ({"warehouse": {"type": "postgres", "path": "x"}}, ("warehouse", "type")),
        ({"warehouse": {"path": "x"}, "model": {"path": ""}}, ("model", "path")),
        ({"warehouse": {"path": "x"}, "schema": "s"}, ("schema",)),
        ({"warehouse": {"path": "x", "user": "u"}}, ("warehouse", "user")),
        ({"warehouse": {"type": "parquet"}}, ("warehouse", "path")),
        ({"warehouse": {"type": "spark_catalog", "path": "x"}, "engine": {"type": "spark"}}, ("warehouse", "path")),
        ({"warehouse": {"type": "spark_catalog"}}, ()),  # needs engine.type: spark
    ],
)
def test_deployment_refuses(data, loc):
    assert loc in [tuple(e["loc"]) for e in errors_of(DeploymentConfig, data)]


# ------------------------------------------------------------------ userentity/config.yml


def test_entity_every_field():
    config = EntityConfig.model_validate(
        {
            "data_model_schema": "asemic_model",
            "cohorted_daily_kpis_days": [0, 1, 7],
            "active_days": 30,
            "data_model_version": "1",
            "model_settings": {
                "incremental_update_frequency": "6h",
                "lookback_days": 3,
                "start_date": "2024-01-01",
                "end_date": dt.date(2024, 3, 1),
            },
        }
    )
    assert config.model_schema == "asemic_model"
    assert config.cohorted_daily_kpis_days == [0, 1, 7]
    assert config.active_days == 30
    assert config.model_settings.update_frequency == dt.timedelta(hours=6)
    assert config.model_settings.lookback_days == 3
    assert config.model_settings.start_date == dt.date(2024, 1, 1)
    assert config.model_settings.end_date == dt.date(2024, 3, 1)


def test_entity_defaults():
    config = EntityConfig.model_validate({"data_model_schema": "m", "cohorted_daily_kpis_days": [0], "active_days": 1})
    settings = config.model_settings
    assert (settings.incremental_update_frequency, settings.lookback_days) == ("1d", 0)
    assert settings.start_date is None and settings.end_date is None
    assert settings.update_frequency == dt.timedelta(days=1)


def test_base_table_prefix_is_the_2024_name_of_the_schema():
    legacy = EntityConfig.model_validate(
        {"base_table_prefix": "asemic_model.game_", "cohorted_daily_kpis_days": [0], "active_days": 30}
    )
    current = EntityConfig.model_validate(
        {"data_model_schema": "asemic_model", "cohorted_daily_kpis_days": [0], "active_days": 30}
    )
    assert legacy.model_schema == current.model_schema == "asemic_model"


@pytest.mark.parametrize(
    "change, loc, message",
    [
        ({"data_model_schema": None}, (), "data_model_schema"),
        ({"data_model_schema": "bad-name"}, ("data_model_schema",), "is not a valid name: use letters, digits and _ only"),
        ({"cohorted_daily_kpis_days": []}, ("cohorted_daily_kpis_days",), "at least 1"),
        ({"cohorted_daily_kpis_days": [0, -1]}, ("cohorted_daily_kpis_days", 1), "greater than or equal to 0"),
        ({"active_days": 0}, ("active_days",), "greater than 0"),
        ({"active_days": -3}, ("active_days",), "greater than 0"),
        ({"model_settings": {"incremental_update_frequency": "5x"}}, ("model_settings", "incremental_update_frequency"),
         "invalid duration"),
        ({"model_settings": {"incremental_update_frequency": "0h"}}, ("model_settings", "incremental_update_frequency"),
         "positive"),
        ({"model_settings": {"lookback_days": -1}}, ("model_settings", "lookback_days"), "greater than or equal to 0"),
        ({"model_settings": {"start_date": "2025-02-30"}}, ("model_settings", "start_date"), "invalid date"),
        ({"model_settings": {"end_date": dt.datetime(2024, 1, 1, 10)}}, ("model_settings", "end_date"), "not a timestamp"),
        ({"model_settings": {"start_date": "2024-02-01", "end_date": "2024-01-01"}}, ("model_settings",),
         "after end_date"),
        ({"model_settings": {"frequency": "1d"}}, ("model_settings", "frequency"), "Extra inputs"),
        ({"schema_version": 2}, ("schema_version",), "Extra inputs"),
    ],
)
def test_entity_refuses(change, loc, message):
    data = {"data_model_schema": "m", "cohorted_daily_kpis_days": [0, 1], "active_days": 30, **change}
    found = [(tuple(e["loc"]), e["msg"]) for e in errors_of(EntityConfig, data)]
    assert any(got == loc and message in msg for got, msg in found), found


@pytest.mark.parametrize("text, delta", [("30m", dt.timedelta(minutes=30)), ("6h", dt.timedelta(hours=6)),
                                         ("1d", dt.timedelta(days=1)), (" 2d ", dt.timedelta(days=2))])
def test_durations(text, delta):
    assert parse_duration(text) == delta
    assert ModelSettings(incremental_update_frequency=text).update_frequency == delta


@pytest.mark.parametrize("text", ["5x", "", "d", "1.5h", "-1d", "1 week"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# ------------------------------------------------------------------------- events

FULL_EVENT = {
    "table_name": "game.purchases",
    "tags": ["activity_event", "payment_transaction_event"],
    "label": "Purchase",
    "description": "One row per purchase",
    "where": "{amount_usd} > 0",
    "columns": {
        "user_id": {"data_type": "STRING", "tags": ["entity_id_column"]},
        "event_ts": {"data_type": "DATETIME", "tags": ["event_timestamp_column"]},
        "event_date": {"data_type": "DATE", "tags": ["date_column"]},
        "amount_usd": {
            "data_type": "NUMBER",
            "label": "Amount",
            "description": "USD",
            "tags": ["transaction_amount_column"],
            "can_filter": True,
            "can_group_by": False,
        },
        "level_started.level": {"data_type": "INTEGER"},
    },
    "enrichments": [{"logical_table": "users", "on": [{"source": "user_id", "target": "id"}]}],
    "computed_columns": [],
}


def test_event_every_field():
    table = EventTable.model_validate(FULL_EVENT)
    assert table.table_name == "game.purchases"
    assert table.tags == ["activity_event", "payment_transaction_event"]
    assert (table.label, table.description, table.where) == ("Purchase", "One row per purchase", "{amount_usd} > 0")
    amount = table.columns["amount_usd"]
    assert amount.data_type is DataType.NUMBER
    assert (amount.label, amount.description, amount.tags) == ("Amount", "USD", ["transaction_amount_column"])
    assert (amount.can_filter, amount.can_group_by) == (True, False)
    assert table.columns["level_started.level"].data_type is DataType.INTEGER
    assert table.columns["user_id"].tags == ["entity_id_column"] and table.columns["user_id"].label is None
    assert table.enrichments[0].logical_table == "users"
    assert (table.enrichments[0].on[0].source, table.enrichments[0].on[0].target) == ("user_id", "id")
    assert table.columns_tagged("date_column") == ["event_date"]


def test_event_defaults():
    table = EventTable.model_validate({"table_name": "t", "columns": {"a": {"data_type": "STRING"}}})
    assert table.tags == [] and table.enrichments == [] and table.computed_columns == []
    assert table.where is None and table.label is None and table.description is None


@pytest.mark.parametrize(
    "change, loc",
    [
        ({"table_name": "a.b.c.d"}, ("table_name",)),
        ({"table_name": "drop table x"}, ("table_name",)),
        ({"columns": {}}, ("columns",)),
        ({"columns": {"a": {"data_type": "FLOAT"}}}, ("columns", "a", "data_type")),
        ({"columns": {"a": {}}}, ("columns", "a", "data_type")),
        ({"columns": {"a": {"data_type": "STRING", "type": "x"}}}, ("columns", "a", "type")),
        ({"columns": {"bad name": {"data_type": "STRING"}}}, ("columns", "bad name", "[key]")),
        ({"where": ""}, ("where",)),
        ({"enrichments": [{"logical_table": "u", "on": []}]}, ("enrichments", 0, "on")),
        ({"enrichments": [{"logical_table": "u", "on": [{"source": "a"}]}]}, ("enrichments", 0, "on", 0, "target")),
        ({"computed_columns": [{"id": "x"}]}, ("computed_columns",)),
        ({"partition_by": "date"}, ("partition_by",)),
    ],
)
def test_event_refuses(change, loc):
    data = {"table_name": "t", "columns": {"a": {"data_type": "STRING"}}, **change}
    assert loc in [tuple(e["loc"]) for e in errors_of(EventTable, data)]


@pytest.mark.parametrize(
    "legacy, canonical",
    [
        ("first_appearance_event", "registration_event"),
        ("first_appearance_action", "registration_event"),
        ("registration_action", "registration_event"),
        ("activity_action", "activity_event"),
        ("payment_transaction_action", "payment_transaction_event"),
    ],
)
def test_legacy_table_tags(legacy, canonical):
    base = {"table_name": "t", "columns": {"a": {"data_type": "STRING"}}}
    assert EventTable.model_validate({**base, "tags": [legacy]}) == EventTable.model_validate({**base, "tags": [canonical]})


@pytest.mark.parametrize(
    "legacy, canonical",
    [
        ("first_appearance_property", "registration_property"),
        ("event_date_column", "date_column"),
        ("action_timestamp_column", "event_timestamp_column"),
    ],
)
def test_legacy_column_tags(legacy, canonical):
    def table(tag):
        return EventTable.model_validate({"table_name": "t", "columns": {"a": {"data_type": "DATE", "tags": [tag]}}})

    assert table(legacy) == table(canonical)
    assert table(legacy).columns_tagged(canonical) == ["a"]


def test_list_form_columns_load_as_the_map_form():
    listed = EventTable.model_validate(
        {
            "table_name": "game.sessions",
            "columns": [
                {"id": "user_id", "data_type": "STRING", "tags": ["entity_id_column"]},
                {"id": "event_ts", "data_type": "DATETIME", "tags": ["action_timestamp_column"]},
                {"id": "session_length_s", "data_type": "NUMBER", "label": "Length"},
            ],
        }
    )
    mapped = EventTable.model_validate(
        {
            "table_name": "game.sessions",
            "columns": {
                "user_id": {"data_type": "STRING", "tags": ["entity_id_column"]},
                "event_ts": {"data_type": "DATETIME", "tags": ["event_timestamp_column"]},
                "session_length_s": {"data_type": "NUMBER", "label": "Length"},
            },
        }
    )
    assert listed == mapped
    assert list(listed.columns) == ["user_id", "event_ts", "session_length_s"]


# --------------------------------------------------------------------- properties


def test_property_common_fields_and_defaults():
    prop = Property.model_validate({"data_type": "INTEGER", "computed_property": {"select": "1"}})
    assert (prop.label, prop.description, prop.can_filter, prop.can_group_by) == (None, None, True, False)
    prop = Property.model_validate(
        {"data_type": "STRING", "label": "L", "description": "D", "can_filter": False, "can_group_by": True,
         "registration_property": {}}
    )
    assert (prop.label, prop.description, prop.can_filter, prop.can_group_by) == ("L", "D", False, True)
    assert prop.kind == "registration_property"


def test_event_property_every_field():
    prop = Property.model_validate(
        {
            "data_type": "NUMBER",
            "event_property": {
                "source_event": "purchase",
                "select": "{amount_usd}",
                "aggregate_function": "sum",
                "where": "{amount_usd} > 1",
                "default_value": 0,
            },
        }
    )
    definition = prop.definition
    assert isinstance(definition, EventPropertyDef) and prop.kind == "event_property"
    assert (definition.source_event, definition.select, definition.aggregate_function) == ("purchase", "{amount_usd}", "sum")
    assert (definition.where, definition.default_value, definition.data_type) == ("{amount_usd} > 1", 0, None)


@pytest.mark.parametrize("function", ["count", "count_distinct", "sum", "avg", "min", "max", "first_value",
                                      "last_value", "none"])
def test_event_property_aggregate_functions(function):
    EventPropertyDef.model_validate({"source_event": "e", "select": "1", "aggregate_function": function})


@pytest.mark.parametrize("value, text", [(1, "1"), (2.5, "2.5"), (True, "TRUE"), (False, "FALSE"), ("COUNT(*)", "COUNT(*)")])
def test_expressions_are_text(value, text):
    assert EventPropertyDef.model_validate({"source_event": "e", "select": value, "aggregate_function": "none"}).select == text


def test_unquoted_placeholder_is_explained():
    found = errors_of(EventPropertyDef, {"source_event": "e", "select": {"amount": None}, "aggregate_function": "sum"})
    assert found[0]["loc"] == ("select",)
    assert "quote it, e.g. '{amount}'" in found[0]["msg"]


@pytest.mark.parametrize("body", [{}, None])
def test_registration_property_bare_or_empty(body):
    prop = Property.model_validate({"data_type": "STRING", "registration_property": body})
    assert prop.kind == "registration_property"
    assert prop.definition == RegistrationPropertyDef(source_column=None)


def test_registration_property_source_column():
    prop = Property.model_validate({"data_type": "STRING", "registration_property": {"source_column": "platform"}})
    assert prop.definition.source_column == "platform"


def test_computed_property_every_field():
    prop = Property.model_validate(
        {
            "data_type": "STRING",
            "computed_property": {
                "select": "{revenue_lifetime}",
                "value_mappings": [
                    {"constant": 0, "new_value": "None"},
                    {"range": {"from": 0, "to": 20}, "new_value": "Minnow"},
                    {"range": {"from": 20}, "new_value": "Whale"},
                    {"range": {"to": -1}, "new_value": "Refunds"},
                ],
            },
        }
    )
    definition = prop.definition
    assert isinstance(definition, ComputedPropertyDef)
    mappings = definition.value_mappings
    assert (mappings[0].constant, mappings[0].range, mappings[0].new_value) == (0, None, "None")
    assert (mappings[1].range.from_, mappings[1].range.to, mappings[1].new_value) == (0, 20, "Minnow")
    assert (mappings[2].range.from_, mappings[2].range.to) == (20, None)
    assert (mappings[3].range.from_, mappings[3].range.to) == (None, -1)


def test_constant_null_is_a_matcher():
    mapping = ComputedPropertyDef.model_validate(
        {"select": "{x}", "value_mappings": [{"constant": None, "new_value": "missing"}]}
    ).value_mappings[0]
    assert mapping.constant is None and "constant" in mapping.model_fields_set


@pytest.mark.parametrize(
    "mapping",
    [{"new_value": "x"}, {"constant": 1, "range": {"from": 1}, "new_value": "x"}, {"constant": 1},
     {"range": {"from": 1, "too": 2}, "new_value": "x"}],
)
def test_value_mapping_refuses(mapping):
    errors_of(ComputedPropertyDef, {"select": "{x}", "value_mappings": [mapping]})


def test_sliding_window_every_field_and_sources():
    base = {"window_function": "sum", "relative_days_from": -6, "relative_days_to": 0}
    by_property = SlidingWindowDef.model_validate({**base, "source_property": "dau"})
    assert (by_property.window_function, by_property.relative_days_from, by_property.relative_days_to) == ("sum", -6, 0)
    assert by_property.source_property == "dau"
    inline_event = SlidingWindowDef.model_validate(
        {**base, "source_event_property": {"source_event": "s", "select": "1", "aggregate_function": "none"}}
    )
    assert inline_event.source_event_property.source_event == "s"
    inline_computed = SlidingWindowDef.model_validate({**base, "source_computed_property": {"select": "{a} + 1"}})
    assert inline_computed.source_computed_property.select == "{a} + 1"


@pytest.mark.parametrize("function", ["sum", "avg", "count", "count_distinct", "min", "max"])
def test_window_functions(function):
    SlidingWindowDef.model_validate({"window_function": function, "relative_days_from": 0, "relative_days_to": 0,
                                     "source_property": "x"})
    FixedWindowDef.model_validate({"window_function": function, "date_from": "2024-01-01", "date_to": "2024-01-02",
                                   "source_property": "x"})


@pytest.mark.parametrize("model", [SlidingWindowDef, FixedWindowDef, LifetimeDef])
@pytest.mark.parametrize(
    "sources",
    [{}, {"source_property": "a", "source_computed_property": {"select": "1"}}],
)
def test_exactly_one_source(model, sources):
    base = {
        SlidingWindowDef: {"window_function": "sum", "relative_days_from": 0, "relative_days_to": 0},
        FixedWindowDef: {"window_function": "sum", "date_from": "2024-01-01", "date_to": "2024-01-02"},
        LifetimeDef: {"merge_function": "sum"},
    }[model]
    found = errors_of(model, {**base, **sources})
    assert "exactly one source" in found[0]["msg"]


def test_fixed_window_every_field():
    window = FixedWindowDef.model_validate(
        {"window_function": "max", "date_from": "2024-01-01", "date_to": dt.date(2024, 1, 7), "source_property": "x"}
    )
    assert (window.window_function, window.date_from, window.date_to) == ("max", dt.date(2024, 1, 1), dt.date(2024, 1, 7))
    assert errors_of(FixedWindowDef, {"window_function": "max", "date_from": "2024-02-30", "date_to": "2024-03-01",
                                      "source_property": "x"})[0]["loc"] == ("date_from",)


@pytest.mark.parametrize("function", ["sum", "min", "max", "first_value", "last_value"])
def test_lifetime_merge_functions(function):
    assert LifetimeDef.model_validate({"merge_function": function, "source_property": "x"}).merge_function == function
    assert errors_of(LifetimeDef, {"merge_function": "avg", "source_property": "x"})[0]["loc"] == ("merge_function",)


@pytest.mark.parametrize("kind", PROPERTY_KINDS)
def test_every_kind_is_a_property_kind(kind):
    bodies = {
        "event_property": {"source_event": "e", "select": "1", "aggregate_function": "none"},
        "registration_property": {},
        "computed_property": {"select": "1"},
        "sliding_window_property": {"window_function": "sum", "relative_days_from": 0, "relative_days_to": 0,
                                    "source_property": "x"},
        "fixed_window_property": {"window_function": "sum", "date_from": "2024-01-01", "date_to": "2024-01-02",
                                  "source_property": "x"},
        "lifetime_property": {"merge_function": "sum", "source_property": "x"},
    }
    prop = Property.model_validate({"data_type": "INTEGER", kind: bodies[kind]})
    assert prop.kind == kind and prop.kinds_given() == [kind]


def test_zero_or_two_kinds_are_refused():
    assert "given: none" in errors_of(Property, {"data_type": "INTEGER"})[0]["msg"]
    found = errors_of(Property, {"data_type": "INTEGER", "computed_property": {"select": "1"}, "registration_property": {}})
    assert "given: registration_property, computed_property" in found[0]["msg"]


# The legacy name of each field loads to the same model as the canonical name.
LEGACY_PROPERTY_PAIRS = [
    (
        {"data_type": "INTEGER", "action_property": {"source_action": "login", "select": "1", "aggregate_function": "none"}},
        {"data_type": "INTEGER", "event_property": {"source_event": "login", "select": "1", "aggregate_function": "none"}},
    ),
    (
        {"data_type": "INTEGER", "event_property": {"source_action": "login", "select": "1", "aggregate_function": "none"}},
        {"data_type": "INTEGER", "event_property": {"source_event": "login", "select": "1", "aggregate_function": "none"}},
    ),
    (
        {"data_type": "STRING", "first_appearance_property": {"source_column": "platform"}},
        {"data_type": "STRING", "registration_property": {"source_column": "platform"}},
    ),
    (
        {"data_type": "STRING", "first_appearance_property": None},
        {"data_type": "STRING", "registration_property": None},
    ),
    (
        {"data_type": "DATE", "lifetime_property": {"merge_function": "last_value", "source_action_property": {
            "source_action": "login", "select": "{event_date}", "aggregate_function": "last_value"}}},
        {"data_type": "DATE", "lifetime_property": {"merge_function": "last_value", "source_event_property": {
            "source_event": "login", "select": "{event_date}", "aggregate_function": "last_value"}}},
    ),
    (
        {"data_type": "INTEGER", "sliding_window_property": {"sliding_window_function": "sum", "relative_days_from": -6,
                                                             "relative_days_to": 0, "source_property": "dau"}},
        {"data_type": "INTEGER", "sliding_window_property": {"window_function": "sum", "relative_days_from": -6,
                                                             "relative_days_to": 0, "source_property": "dau"}},
    ),
]


@pytest.mark.parametrize("legacy, canonical", LEGACY_PROPERTY_PAIRS)
def test_legacy_property_names(legacy, canonical):
    assert Property.model_validate(legacy) == Property.model_validate(canonical)


# --------------------------------------------------------------------------- KPIs


def test_kpi_every_field():
    kpi = Kpi.model_validate(
        {
            "select": "SUM({property.revenue_on_day})",
            "x_axis": {"date": {"total_function": "avg"}, "cohort_day": None},
            "where": "{property.cohort_day} = {}",
            "label": "Revenue D{}",
            "description": "d",
            "unit": {"symbol": "$", "is_prefix": True},
            "total_function": "max",
            "template": "cohort_day",
        }
    )
    assert kpi.select == "SUM({property.revenue_on_day})"
    assert kpi.x_axis["date"].total_function == "avg"
    assert kpi.x_axis["cohort_day"].total_function is None
    assert (kpi.where, kpi.label, kpi.description) == ("{property.cohort_day} = {}", "Revenue D{}", "d")
    assert (kpi.unit.symbol, kpi.unit.is_prefix, kpi.total_function, kpi.template) == ("$", True, "max", "cohort_day")
    assert Kpi.model_validate({"select": "1", "x_axis": {"date": {}}, "template": [1, "7", 28]}).template == [1, "7", 28]
    assert Kpi.model_validate({"select": "1", "x_axis": {"date": {}}, "unit": {"symbol": "%"}}).unit.is_prefix is False


@pytest.mark.parametrize("function", ["sum", "avg", "count", "min", "max"])
def test_total_functions(function):
    Kpi.model_validate({"select": "1", "x_axis": {"date": {"total_function": function}}, "total_function": function})


@pytest.mark.parametrize(
    "change, loc",
    [
        ({"select": ""}, ("select",)),
        ({"x_axis": {}}, ("x_axis",)),
        ({"x_axis": "date"}, ("x_axis",)),
        ({"x_axis": {"date": {"total": "sum"}}}, ("x_axis", "date", "total")),
        ({"total_function": "median"}, ("total_function",)),
        ({"unit": {"is_prefix": True}}, ("unit", "symbol")),
        ({"template": "weekly"}, ("template",)),
        ({"template": []}, ("template",)),
        ({"filters": []}, ("filters",)),
    ],
)
def test_kpi_refuses(change, loc):
    data = {"select": "1", "x_axis": {"date": {}}, **change}
    # pydantic names union members in the location (e.g. "literal['cohort_day']"): drop them
    found = [tuple(part for part in e["loc"] if not (isinstance(part, str) and "[" in part))
             for e in errors_of(Kpi, data)]
    assert loc in found, found


def test_file_shapes():
    assert PropertiesFile.model_validate({}).properties == {}
    assert KpisFile.model_validate({"kpis": {}}).kpis == {}
    errors_of(PropertiesFile, {"kpis": {}})
    errors_of(KpisFile, {"properties": {}})


def test_file_kinds_cover_every_file():
    assert set(FILE_KINDS) == {"asemic", "entity", "event", "properties", "kpis"}


# ------------------------------------------------------------- legacy names on disk


def test_actions_directory_loads_like_events(project):
    before = load_project(project.root)
    (project.root / "userentity" / "events").rename(project.root / "userentity" / "actions")
    after = load_project(project.root)
    assert not after.issues
    assert {k: v.model for k, v in after.events.items()} == {k: v.model for k, v in before.events.items()}
    assert after.events["purchase"].file == "userentity/actions/purchase.yml"


def test_first_appearance_date_placeholder_reads_registration_date(project):
    rel = "userentity/properties/revenue.yml"
    original = resolve(load_project(project.root)).properties["days_to_first_purchase"]
    project.replace(rel, "{first_purchase_date}, {registration_date}", "{first_purchase_date}, {first_appearance_date}")
    assert project.errors() == []
    renamed = resolve(load_project(project.root)).properties["days_to_first_purchase"]
    assert renamed.depends_on == original.depends_on == ("first_purchase_date", "registration_date")


def test_legacy_fixture_loads_to_the_current_kinds(legacy_project):
    files = load_project(legacy_project.root)
    assert files.issues == []
    assert set(files.events) == {"ad_view", "first_appearance", "level_completed", "login", "payment_transaction"}
    assert files.events["first_appearance"].model.tags == ["registration_event"]
    assert files.events["login"].model.tags == ["activity_event"]
    assert files.events["login"].model.columns_tagged("event_timestamp_column") == ["event_ts"]
    assert files.events["first_appearance"].model.columns_tagged("registration_property") == [
        "platform", "country", "build_version"]
    assert files.properties["active_on_day"].model.kind == "event_property"
    assert files.properties["active_on_day"].model.event_property.source_event == "login"
    assert files.properties["first_appearance_date"].model.kind == "registration_property"
    assert files.properties["last_login_date"].model.lifetime_property.source_event_property.source_event == "login"
    resolved = resolve(files)
    assert resolved.properties["days_to_first_purchase"].depends_on == ("first_purchase_date", "registration_date")


# ----------------------------------------------------------- unknown keys, with line

UNKNOWN_KEYS = [
    # (file, insert after this text, the inserted line, the error's field)
    ("asemic.yml", "warehouse: {type: duckdb, path: warehouse.duckdb}\n", "bogus_key: 1\n", "bogus_key"),
    ("asemic.yml", "warehouse: {type: duckdb, path: warehouse.duckdb", ", bogus_key: 1", "warehouse.bogus_key"),
    ("userentity/config.yml", "active_days: 30\n", "bogus_key: 1\n", "bogus_key"),
    ("userentity/config.yml", "  lookback_days: 2\n", "  bogus_key: 1\n", "model_settings.bogus_key"),
    ("userentity/events/purchase.yml", "table_name: game.purchases\n", "bogus_key: 1\n", "bogus_key"),
    ("userentity/events/purchase.yml", "    data_type: NUMBER\n", "    bogus_key: 1\n", "columns.amount_usd.bogus_key"),
    ("userentity/properties/activity.yml", "  playtime_on_day:\n", "    bogus_key: 1\n", "bogus_key"),
    ("userentity/properties/activity.yml", "      aggregate_function: sum\n", "      bogus_key: 1\n",
     "event_property.bogus_key"),
    ("userentity/properties/ads_and_levels.yml", "        new_value: Mid game\n", "        bogus_key: 1\n",
     "computed_property.value_mappings.1.bogus_key"),
    ("userentity/properties/revenue.yml", "      date_to: '2024-01-07'\n", "      bogus_key: 1\n",
     "fixed_window_property.bogus_key"),
    ("userentity/kpis/levels.yml", "    total_function: avg\n", "    bogus_key: 1\n", "bogus_key"),
    ("userentity/kpis/activity.yml", "        total_function: avg\n      cohort_day: {}\n",
     "      bogus_axis_key: {total_function: sum, bogus_key: 1}\n", "x_axis.bogus_axis_key.bogus_key"),
    ("userentity/kpis/activity.yml", "      symbol: ' min'\n", "      bogus_key: 1\n", "unit.bogus_key"),
]


@pytest.mark.parametrize("rel, anchor, inserted, field", UNKNOWN_KEYS, ids=[f"{r}:{f}" for r, _, _, f in UNKNOWN_KEYS])
def test_unknown_keys_are_errors_with_file_and_line(project, rel, anchor, inserted, field):
    project.replace(rel, anchor, anchor + inserted)
    expected_line = project.line(rel, "bogus_key: 1")
    found = [i for i in load_project(project.root).issues if "bogus_key" in i.message]
    assert len(found) == 1, found
    issue = found[0]
    assert (issue.file, issue.line) == (rel, expected_line)
    assert issue.message == "unknown field 'bogus_key'"
    assert issue.field is not None and issue.field.endswith(field)


# ---------------------------------------------------------------- JSON Schemas


@pytest.fixture(scope="module")
def schemas(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("schemas")
    assert main(["config", "schema", "--out", str(out)]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == sorted(f"{kind}.schema.json" for kind in FILE_KINDS)
    return {f.name.split(".")[0]: json.loads(f.read_text(encoding="utf-8")) for f in files}


def _kind_of(rel: str) -> str:
    if rel == "asemic.yml":
        return "asemic"
    if rel == "userentity/config.yml":
        return "entity"
    return {"events": "event", "actions": "event", "properties": "properties", "kpis": "kpis"}[rel.split("/")[1]]


def _as_json(value):
    return json.loads(json.dumps(value, default=lambda o: o.isoformat()))


def _fixture_documents(root: Path):
    for path in sorted(root.rglob("*.yml")):
        rel = path.relative_to(root).as_posix()
        doc, issues = parse_yaml(path.read_text(encoding="utf-8"), rel)
        assert not issues
        yield rel, _as_json(doc.data)


def _object_schemas(schema: dict):
    yield "(root)", schema
    yield from schema.get("$defs", {}).items()


def test_schemas_are_strict_and_list_the_documented_fields(schemas):
    for kind, schema in schemas.items():
        assert schema["$schema"].startswith("https://json-schema.org/")
        for name, body in _object_schemas(schema):
            if body.get("type") == "object" and "properties" in body:
                assert body.get("additionalProperties") is False, f"{kind}: {name}"
    defs = schemas["properties"]["$defs"]
    assert set(defs["Property"]["properties"]) >= {"data_type", "label", "description", "can_filter", "can_group_by",
                                                   *PROPERTY_KINDS}
    assert set(defs["EventPropertyDef"]["properties"]) >= {"source_event", "select", "aggregate_function", "where",
                                                           "default_value"}
    assert set(defs["SlidingWindowDef"]["properties"]) >= {"window_function", "relative_days_from", "relative_days_to",
                                                           "source_property", "source_computed_property",
                                                           "source_event_property"}
    assert set(defs["FixedWindowDef"]["properties"]) >= {"window_function", "date_from", "date_to"}
    assert set(defs["LifetimeDef"]["properties"]) >= {"merge_function"}
    assert set(defs["ValueMapping"]["properties"]) == {"constant", "range", "new_value"}
    assert set(defs["ValueRange"]["properties"]) == {"from", "to"}
    assert set(schemas["kpis"]["$defs"]["Kpi"]["properties"]) == {
        "select", "x_axis", "where", "label", "description", "unit", "total_function", "template"}
    assert set(schemas["event"]["properties"]) >= {"table_name", "columns", "tags", "label", "description", "where",
                                                   "enrichments"}
    assert set(schemas["entity"]["properties"]) >= {"data_model_schema", "cohorted_daily_kpis_days", "active_days",
                                                    "data_model_version", "model_settings"}
    assert set(schemas["entity"]["$defs"]["ModelSettings"]["properties"]) == {
        "incremental_update_frequency", "lookback_days", "start_date", "end_date"}
    assert set(schemas["asemic"]["properties"]) >= {"warehouse", "model"}


def test_schemas_list_the_legacy_names(schemas):
    defs = schemas["properties"]["$defs"]
    assert {"action_property", "first_appearance_property"} <= set(defs["Property"]["properties"])
    assert "source_action" in defs["EventPropertyDef"]["properties"]
    assert "source_action_property" in defs["LifetimeDef"]["properties"]
    assert "sliding_window_function" in defs["SlidingWindowDef"]["properties"]
    assert "sliding_window_function" not in defs["FixedWindowDef"]["properties"]


@pytest.mark.parametrize("fixture", ["asemic_current", "asemic_2024"])
def test_fixture_files_validate_against_the_schemas(schemas, fixture):
    jsonschema = pytest.importorskip("jsonschema")
    checked = 0
    for rel, data in _fixture_documents(FIXTURES / fixture):
        validator = jsonschema.Draft202012Validator(schemas[_kind_of(rel)])
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert problems == [], f"{fixture}/{rel}: {problems}"
        checked += 1
    assert checked >= 14


@pytest.mark.parametrize(
    "kind, data",
    [
        ("asemic", {"warehouse": {"path": "w"}, "bogus": 1}),
        ("entity", {"data_model_schema": "m", "cohorted_daily_kpis_days": [0], "active_days": 1, "bogus": 1}),
        ("event", {"table_name": "t", "columns": {"a": {"data_type": "STRING", "bogus": 1}}}),
        ("event", {"table_name": "t", "columns": {"a": {"data_type": "FLOAT"}}}),
        ("properties", {"properties": {"p": {"data_type": "INTEGER", "computed_property": {"select": "1", "bogus": 1}}}}),
        ("properties", {"properties": {"p": {"data_type": "INTEGER", "event_property": {
            "select": "1", "aggregate_function": "none"}}}}),
        ("properties", {"properties": {"p": {"data_type": "INTEGER", "fixed_window_property": {
            "sliding_window_function": "sum", "date_from": "2024-01-01", "date_to": "2024-01-02",
            "source_property": "x"}}}}),
        ("kpis", {"kpis": {"k": {"select": "1", "x_axis": {"date": {}}, "bogus": 1}}}),
        ("kpis", {"kpis": {"k": {"x_axis": {"date": {}}}}}),
    ],
)
def test_schemas_refuse_what_the_loader_refuses(schemas, kind, data):
    jsonschema = pytest.importorskip("jsonschema")
    assert list(jsonschema.Draft202012Validator(schemas[kind]).iter_errors(data))
    with pytest.raises(ValidationError):
        FILE_KINDS[kind].model_validate(data)


def test_schemas_accept_list_form_columns_like_the_loader(schemas):
    jsonschema = pytest.importorskip("jsonschema")
    data = {"table_name": "t", "columns": [{"id": "a", "data_type": "STRING", "tags": ["entity_id_column"]}]}
    EventTable.model_validate(data)
    assert not list(jsonschema.Draft202012Validator(schemas["event"]).iter_errors(data))
