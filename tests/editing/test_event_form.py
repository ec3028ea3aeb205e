"""The event form laid over an event table as written."""

from __future__ import annotations

from asemic_core.editing.event_form import event_data, form_for_event, form_for_suggestion
from asemic_core.config.models import EventTable
from asemic_core.editing.event_suggestion import suggest_event
from asemic_core.warehouse import Column

TABLE = EventTable.model_validate({
    "table_name": "game.purchases",
    "columns": {
        "user_id": {"data_type": "STRING", "tags": ["entity_id_column"]},
        "event_ts": {"data_type": "DATETIME", "tags": ["event_timestamp_column"], "description": "UTC"},
        "amount": {"data_type": "NUMBER", "label": "Amount"},
    },
    "tags": ["payment_transaction_event"],
    "label": "Purchase",
    "enrichments": [{"logical_table": "products", "on": [{"source": "amount", "target": "id"}]}],
})


def test_unchanged_form_gives_the_table_back():
    form = form_for_event(TABLE, {"user_id": "VARCHAR", "event_ts": "TIMESTAMP", "amount": "DOUBLE"})
    assert EventTable.model_validate(event_data(form, TABLE)) == TABLE


def test_undeclared_warehouse_columns_come_unticked():
    form = form_for_event(TABLE, {"user_id": "VARCHAR", "event_ts": "TIMESTAMP", "amount": "DOUBLE",
                                  "country": "VARCHAR"})
    extra = form.columns[-1]
    assert (extra.name, extra.include, extra.data_type) == ("country", False, "STRING")
    assert "country" not in event_data(form, TABLE)["columns"]


def test_form_changes_keep_what_the_form_does_not_show():
    form = form_for_event(TABLE, None)
    form.where = " {amount} > 0 "
    form.label = ""
    form.tags = []
    form.columns[0].tags = []
    form.columns[2].include = False
    form.columns[1].label = "Time"
    data = event_data(form, TABLE)
    assert data["where"] == "{amount} > 0"
    assert "label" not in data and "tags" not in data
    assert "amount" not in data["columns"]
    assert data["columns"]["user_id"] == {"data_type": "STRING"}
    assert data["columns"]["event_ts"] == {"data_type": "DATETIME", "label": "Time", "description": "UTC",
                                           "tags": ["event_timestamp_column"]}
    assert data["enrichments"] == [{"logical_table": "products", "on": [{"source": "amount", "target": "id"}]}]
    assert list(data) == ["table_name", "columns", "where", "enrichments"]


def test_form_of_a_suggestion():
    suggestion = suggest_event("game.sessions", {"user_id": Column("user_id", "VARCHAR"),
                                                 "event_ts": Column("event_ts", "TIMESTAMP")})
    data = event_data(form_for_suggestion(suggestion))
    assert data == suggestion.to_data()
