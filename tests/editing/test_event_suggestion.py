"""Suggested roles and tags for a warehouse table."""

from __future__ import annotations

import pytest

from asemic_core.config.models import DataType, EventTable
from asemic_core.editing.event_suggestion import event_id_for, suggest_event, table_tags
from asemic_core.warehouse import Column


def columns(**types: str) -> dict[str, Column]:
    return {name: Column(name, warehouse_type) for name, warehouse_type in types.items()}


def tags_of(suggestion) -> dict[str, list[str]]:
    return {c.name: c.tags for c in suggestion.columns if c.tags}


@pytest.mark.parametrize(("table", "expected"), [
    ("game.registrations", ["registration_event"]),
    ("app.installs", ["registration_event"]),
    ("web.user_signups", ["registration_event"]),
    ("game.sessions", ["activity_event"]),
    ("auth.logins", ["activity_event"]),
    ("shop.purchases", ["payment_transaction_event"]),
    ("billing.payments", ["payment_transaction_event"]),
    ("ledger.transactions", ["payment_transaction_event"]),
    ("game.level_completions", []),
])
def test_table_tags_from_the_table_name(table, expected):
    assert table_tags(table) == expected


@pytest.mark.parametrize(("table", "taken", "expected"), [
    ("game.ad_views", (), "ad_view"),
    ("game.activities", (), "activity"),
    ("game.progress", (), "progress"),
    ("sessions", (), "session"),
    ("game.purchases", ("purchase",), "purchase_2"),
    ("game.purchases", ("purchase", "purchase_2"), "purchase_3"),
    ("x.2024_events", (), "event_2024_event"),
])
def test_event_id_from_the_table_name(table, taken, expected):
    assert event_id_for(table, taken) == expected


def test_roles_of_a_typical_purchase_table():
    found = suggest_event("shop.purchases", columns(
        user_id="VARCHAR", event_ts="TIMESTAMP", event_date="DATE", amount_usd="DOUBLE", product_id="VARCHAR",
        loaded_at="TIMESTAMP"))
    assert tags_of(found) == {"user_id": ["entity_id_column"], "event_ts": ["event_timestamp_column"],
                              "event_date": ["date_column"], "amount_usd": ["transaction_amount_column"]}
    assert found.tags == ["payment_transaction_event"]
    assert found.event_id == "purchase" and found.label == "Purchase"
    assert found.column("amount_usd").data_type is DataType.NUMBER


@pytest.mark.parametrize("name", ["player_id", "entity_id", "account_id", "userId"])
def test_entity_id_names(name):
    found = suggest_event("t.x", columns(**{name: "BIGINT", "ts": "TIMESTAMP"}))
    assert found.column(name).tags == ["entity_id_column"]


def test_timestamp_prefers_event_time_names_over_load_times():
    found = suggest_event("t.events", columns(user_id="VARCHAR", loaded_at="TIMESTAMP", created_ts="TIMESTAMP",
                                              event_time="TIMESTAMP WITH TIME ZONE"))
    assert found.column("event_time").tags == ["event_timestamp_column"]
    assert found.column("created_ts").tags == [] and found.column("loaded_at").tags == []


def test_timestamp_must_be_a_timestamp():
    found = suggest_event("t.events", columns(user_id="VARCHAR", event_ts="VARCHAR", happened="TIMESTAMP",
                                              other="TIMESTAMP"))
    assert "event_ts" not in tags_of(found) and "happened" not in tags_of(found)


def test_each_tag_on_one_column_at_most():
    found = suggest_event("t.purchases", columns(user_id="VARCHAR", player_id="VARCHAR", a_ts="TIMESTAMP",
                                                 b_ts="TIMESTAMP", price="DOUBLE", revenue="DOUBLE",
                                                 first_date="DATE", event_date="DATE"))
    counts: dict[str, int] = {}
    for tags in tags_of(found).values():
        for tag in tags:
            counts[tag] = counts.get(tag, 0) + 1
    assert set(counts.values()) == {1}
    assert found.column("event_date").tags == ["date_column"]


def test_amount_must_be_a_number():
    found = suggest_event("t.purchases", columns(user_id="VARCHAR", event_ts="TIMESTAMP", price="VARCHAR",
                                                 revenue_cents="INTEGER"))
    assert "transaction_amount_column" not in [t for tags in tags_of(found).values() for t in tags]


def test_unsupported_types_are_left_out():
    found = suggest_event("t.sessions", columns(user_id="VARCHAR", event_ts="TIMESTAMP", payload="STRUCT(a INTEGER)"))
    assert found.column("payload").data_type is None and not found.column("payload").include
    assert "payload" not in found.to_data()["columns"]


def test_suggestion_data_is_a_valid_event_table():
    found = suggest_event("game.sessions", columns(user_id="VARCHAR", event_ts="TIMESTAMP", event_date="DATE",
                                                   platform="VARCHAR", length_s="DOUBLE", n="BIGINT", ok="BOOLEAN"))
    table = EventTable.model_validate(found.to_data())
    assert table.tags == ["activity_event"]
    assert table.columns_tagged("entity_id_column") == ["user_id"]
    assert {n: c.data_type.value for n, c in table.columns.items()} == {
        "user_id": "STRING", "event_ts": "DATETIME", "event_date": "DATE", "platform": "STRING",
        "length_s": "NUMBER", "n": "INTEGER", "ok": "BOOLEAN"}
