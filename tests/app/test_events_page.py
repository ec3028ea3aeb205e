"""Events: the list, editing one table, adding one from the warehouse."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

EVENTS = "pages/events.py"


def config_hashes(project) -> dict[str, str]:
    return {p.relative_to(project.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((project.root / "userentity").rglob("*")) if p.is_file()}


@pytest.fixture
def payments_table(studio_project):
    """A warehouse table no event table uses yet (``game.payments``)."""
    warehouse = studio_project.warehouse_path()
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("CREATE TABLE game.payments AS SELECT user_id, event_ts AS paid_ts, event_date, "
                    "amount_usd AS price, product_id FROM game.purchases")
    finally:
        con.close()
    return "game.payments"


def next_sibling(app, key: str):
    """The element right after the widget ``key`` in its block."""
    pending = [app._tree]
    while pending:
        block = pending.pop()
        children = list(getattr(block, "children", {}).values())
        for index, child in enumerate(children):
            if getattr(child, "key", None) == key:
                return children[index + 1] if index + 1 < len(children) else None
        pending.extend(children)
    raise AssertionError(f"no widget {key!r}")


def errors_of(app) -> list[str]:
    return [e.value for e in app.error]


def test_list_of_event_tables(app, studio_project):
    app.switch_page(EVENTS).run()
    assert not app.exception
    listing = app.dataframe[0].value
    files = studio_project.files()
    assert sorted(listing["id"]) == sorted(files.events)
    row = listing[listing["id"] == "purchase"].iloc[0]
    assert row["table"] == "game.purchases"
    assert row["tags"] == "payment_transaction_event"
    assert row["columns"] == len(files.events["purchase"].model.columns)
    assert row["file"] == "userentity/events/purchase.yml"
    assert app.info[0].value.startswith("Every table of the warehouse is already used")


def test_edit_shows_columns_with_types_and_tags(app):
    app.switch_page(EVENTS).run()
    app.selectbox(key="events_selected").set_value("registration").run()
    prefix = "ev:edit:registration"
    assert app.text_input(key=f"{prefix}:table_name").value == "game.registrations"
    assert app.multiselect(key=f"{prefix}:tags").value == ["registration_event"]
    assert app.selectbox(key=f"{prefix}:col:event_ts:type").value == "DATETIME"
    assert app.multiselect(key=f"{prefix}:col:platform:tags").value == ["registration_property"]
    assert app.checkbox(key=f"{prefix}:col:platform:on").value is True
    # the sample rows of the table
    sample = app.dataframe[1].value
    assert len(sample) == 20 and "user_id" in sample.columns


def test_invalid_edit_shows_the_error_next_to_the_field_and_writes_nothing(app, studio_project):
    before = config_hashes(studio_project)
    app.switch_page(EVENTS).run()
    prefix = "ev:edit:ad_view"
    app.text_input(key=f"{prefix}:where").set_value("{no_such_column} > 1")
    app.button(key=f"{prefix}:save").click().run()
    assert not app.exception
    errors = errors_of(app)
    assert "where references {no_such_column}, which is not a column of ad_view" in errors
    assert any(e.startswith("Not saved") for e in errors)
    assert config_hashes(studio_project) == before
    # the message sits right under the Where field (same column of the form)
    below = next_sibling(app, f"{prefix}:where")
    assert below.type == "error" and "no_such_column" in below.value
    # the draft is kept for fixing
    assert app.text_input(key=f"{prefix}:where").value == "{no_such_column} > 1"


def test_column_error_shows_next_to_its_column(app, studio_project):
    before = config_hashes(studio_project)
    app.switch_page(EVENTS).run()
    prefix = "ev:edit:purchase"
    app.selectbox(key="events_selected").set_value("purchase").run()
    app.selectbox(key=f"{prefix}:col:event_ts:type").set_value("STRING")
    app.button(key=f"{prefix}:save").click().run()
    assert any("'event_ts' is tagged event_timestamp_column but has data_type STRING" in e for e in errors_of(app))
    assert config_hashes(studio_project) == before


def test_valid_edit_saves_only_that_table(app, studio_project):
    before = config_hashes(studio_project)
    old = (studio_project.root / "userentity/events/ad_view.yml").read_text()
    app.switch_page(EVENTS).run()
    prefix = "ev:edit:ad_view"
    app.text_input(key=f"{prefix}:label").set_value("Rewarded ad view")
    app.text_input(key=f"{prefix}:where").set_value("{ad_network} != 'test'")
    app.button(key=f"{prefix}:save").click().run()
    assert not app.exception and not errors_of(app)
    assert any("Saved event table `ad_view`" in s.value for s in app.success)
    after = config_hashes(studio_project)
    assert {k for k in after if after[k] != before.get(k)} == {"userentity/events/ad_view.yml"}
    model = studio_project.files().events["ad_view"].model
    assert model.label == "Rewarded ad view" and model.where == "{ad_network} != 'test'"
    new = (studio_project.root / "userentity/events/ad_view.yml").read_text()
    assert new.replace("label: Rewarded ad view\nwhere: \"{ad_network} != 'test'\"\n", "") == \
        old.replace("label: Ad view\n", "")
    assert studio_project.validate().ok
    # the form now shows the saved values
    assert app.text_input(key=f"{prefix}:label").value == "Rewarded ad view"


def test_add_from_warehouse_suggests_roles_and_saves_a_valid_table(app, studio_project, payments_table):
    app.switch_page(EVENTS).run()
    assert app.selectbox(key="events_add_table").value == payments_table
    prefix = f"ev:add:{payments_table}"
    assert app.text_input(key=f"{prefix}:id").value == "payment"
    assert app.multiselect(key=f"{prefix}:tags").value == ["payment_transaction_event"]
    suggested = {c: app.multiselect(key=f"{prefix}:col:{c}:tags").value
                 for c in ("user_id", "paid_ts", "event_date", "price", "product_id")}
    assert suggested == {"user_id": ["entity_id_column"], "paid_ts": ["event_timestamp_column"],
                         "event_date": ["date_column"], "price": ["transaction_amount_column"], "product_id": []}
    assert app.selectbox(key=f"{prefix}:col:price:type").value == "NUMBER"
    # the analyst adjusts: another id, a label, and product_id left out
    app.text_input(key=f"{prefix}:id").set_value("shop_payment")
    app.text_input(key=f"{prefix}:label").set_value("Shop payment")
    app.checkbox(key=f"{prefix}:col:product_id:on").uncheck()
    app.button(key=f"{prefix}:save").click().run()
    assert not app.exception and not errors_of(app)
    assert any("Saved event table `shop_payment` to `userentity/events/shop_payment.yml`" in s.value
               for s in app.success)
    files = studio_project.files()
    saved = files.events["shop_payment"]
    assert saved.file == "userentity/events/shop_payment.yml"
    assert saved.model.table_name == payments_table
    assert saved.model.tags == ["payment_transaction_event"]
    assert saved.model.label == "Shop payment"
    assert list(saved.model.columns) == ["user_id", "paid_ts", "event_date", "price"]
    assert saved.model.columns_tagged("entity_id_column") == ["user_id"]
    assert saved.model.columns_tagged("event_timestamp_column") == ["paid_ts"]
    assert studio_project.validate().ok
    # every warehouse table is used now
    assert any(i.value.startswith("Every table of the warehouse is already used") for i in app.info)


def test_add_with_a_missing_role_shows_the_error_and_writes_nothing(app, studio_project, payments_table):
    before = config_hashes(studio_project)
    app.switch_page(EVENTS).run()
    prefix = f"ev:add:{payments_table}"
    app.multiselect(key=f"{prefix}:col:user_id:tags").set_value([])
    app.button(key=f"{prefix}:save").click().run()
    assert not app.exception
    assert any("no column is tagged entity_id_column" in e for e in errors_of(app))
    assert config_hashes(studio_project) == before
    assert not (studio_project.root / "userentity/events/payment.yml").exists()


def test_add_with_a_taken_id_is_refused(app, studio_project, payments_table):
    before = config_hashes(studio_project)
    app.switch_page(EVENTS).run()
    prefix = f"ev:add:{payments_table}"
    app.text_input(key=f"{prefix}:id").set_value("purchase")
    app.button(key=f"{prefix}:save").click().run()
    assert any("an event table 'purchase' already exists" in e for e in errors_of(app))
    assert config_hashes(studio_project) == before


def test_add_from_warehouse_lists_struct_leaf_paths(app, studio_project):
    """A STRUCT column is offered by its leaf paths, typed, and saved as dotted columns."""
    con = duckdb.connect(str(studio_project.warehouse_path()))
    try:
        con.execute("CREATE TABLE game.level_events AS SELECT user_id, event_ts, "
                    "{'level': level, 'attempt': {'number': 1, 'won': true}} AS level_started "
                    "FROM game.level_completions")
    finally:
        con.close()
    app.switch_page(EVENTS).run()
    assert app.selectbox(key="events_add_table").value == "game.level_events"
    prefix = "ev:add:game.level_events"
    leaves = ["level_started.level", "level_started.attempt.number", "level_started.attempt.won"]
    types = {c: app.selectbox(key=f"{prefix}:col:{c}:type").value for c in ["user_id", "event_ts", *leaves]}
    assert types == {"user_id": "STRING", "event_ts": "DATETIME", "level_started.level": "INTEGER",
                     "level_started.attempt.number": "INTEGER", "level_started.attempt.won": "BOOLEAN"}
    event_id = app.text_input(key=f"{prefix}:id").value
    app.button(key=f"{prefix}:save").click().run()
    assert not app.exception and not errors_of(app)
    saved = studio_project.files().events[event_id]
    assert list(saved.model.columns) == ["user_id", "event_ts", *leaves]
    report = studio_project.validate(dry_run=True)
    assert report.ok and report.dry_run == "passed", [i.format() for i in report.errors]
