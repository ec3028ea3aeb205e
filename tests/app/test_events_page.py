"""Events: the list, editing one table in the shared editor (with sample rows), adding one
from the warehouse."""

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


def col(app, name: str, part: str) -> str:
    """The editor widget key of column ``name``'s ``part`` (include, data_type, tags, label)."""
    columns = app.session_state["ev_editor"]["columns"]
    index = next(k for k, c in columns.items() if c["name"] == name)
    return f"ev_editor.columns.{index}.{part}"


def open_event(app, event_id: str):
    app.selectbox(key="ev_list.jump").select(event_id).run()
    assert not app.exception, app.exception
    return app


def add_table(app, table: str, event_id: str = ""):
    app.selectbox(key="ev_new.table").select(table)
    app.text_input(key="ev_new.id").input(event_id)
    next(b for b in app.get("form_submit_button") if b.form_id == "ev_new").click().run()
    assert not app.exception, app.exception
    return app


def test_list_of_event_tables(app, studio_project):
    app.switch_page(EVENTS).run()
    assert not app.exception
    listing = app.dataframe(key="ev_list.table").value
    files = studio_project.files()
    assert sorted(listing["Id"]) == sorted(files.events)
    row = listing[listing["Id"] == "purchase"].iloc[0]
    assert row["Table"] == "game.purchases"
    assert row["Tags"] == "payment_transaction_event"
    assert row["Columns"] == len(files.events["purchase"].model.columns)
    assert row["File"] == "userentity/events/purchase.yml"
    assert any(i.value.startswith("Every table of the warehouse is already used") for i in app.info)


def test_edit_shows_columns_with_types_tags_and_sample_rows(app, studio_project):
    app.switch_page(EVENTS).run()
    open_event(app, "registration")
    assert app.query_params["event"] == "registration"
    assert app.text_input(key="ev_editor_table_ro.game.registrations").value == "game.registrations"
    assert app.multiselect(key="ev_editor.tags").value == ["registration_event"]
    assert app.selectbox(key=col(app, "event_ts", "data_type")).value == "DATETIME"
    assert app.multiselect(key=col(app, "platform", "tags")).value == ["registration_property"]
    assert app.checkbox(key=col(app, "platform", "include")).value is True
    sample = app.dataframe[-1].value
    declared = list(studio_project.files().events["registration"].model.columns)
    assert len(sample) == 20 and list(sample.columns) == [c for c in declared if "." not in c]


def test_the_preview_applies_the_drafts_where(app, studio_project):
    con = duckdb.connect(str(studio_project.warehouse_path()), read_only=True)
    try:
        total, matching = con.execute("SELECT count(*), count(*) FILTER (WHERE revenue_usd > 0.02) "
                                      "FROM game.ad_views").fetchall()[0]
    finally:
        con.close()
    app.switch_page(EVENTS).run()
    open_event(app, "ad_view")
    app.text_input(key="ev_editor.where").input("{revenue_usd} > 0.02").run()
    assert any(f"**{matching:,}** of {total:,} rows" in i.value for i in app.info), [i.value for i in app.info]
    sample = app.dataframe[-1].value
    assert len(sample) == min(20, matching) and (sample["revenue_usd"] > 0.02).all()


def test_invalid_edit_shows_the_error_next_to_the_field_and_writes_nothing(app, studio_project):
    before = config_hashes(studio_project)
    app.switch_page(EVENTS).run()
    open_event(app, "ad_view")
    app.text_input(key="ev_editor.where").input("{no_such_column} > 1").run()
    assert not app.exception
    assert "where references {no_such_column}, which is not a column of ad_view" in errors_of(app)
    assert app.button(key="ev_editor_save").disabled
    assert config_hashes(studio_project) == before
    below = next_sibling(app, "ev_editor.where")
    assert below.type == "error" and "no_such_column" in below.value
    assert app.text_input(key="ev_editor.where").value == "{no_such_column} > 1"


def test_column_error_shows_and_blocks_the_save(app, studio_project):
    before = config_hashes(studio_project)
    app.switch_page(EVENTS).run()
    open_event(app, "purchase")
    app.selectbox(key=col(app, "event_ts", "data_type")).set_value("STRING").run()
    assert any("'event_ts' is tagged event_timestamp_column but has data_type STRING" in e for e in errors_of(app))
    assert app.button(key="ev_editor_save").disabled
    assert config_hashes(studio_project) == before


def test_valid_edit_saves_only_that_table(app, studio_project):
    before = config_hashes(studio_project)
    old = (studio_project.root / "userentity/events/ad_view.yml").read_text()
    app.switch_page(EVENTS).run()
    open_event(app, "ad_view")
    app.text_input(key="ev_editor.label").input("Rewarded ad view").run()
    app.text_input(key="ev_editor.where").input("{ad_network} != 'test'").run()
    app.button(key="ev_editor_save").click().run()
    assert not app.exception and not errors_of(app)
    assert any("Saved **ad_view** to `userentity/events/ad_view.yml`" in t.value for t in app.toast)
    after = config_hashes(studio_project)
    assert {k for k in after if after[k] != before.get(k)} == {"userentity/events/ad_view.yml"}
    model = studio_project.files().events["ad_view"].model
    assert model.label == "Rewarded ad view" and model.where == "{ad_network} != 'test'"
    new = (studio_project.root / "userentity/events/ad_view.yml").read_text()
    assert new.replace("label: Rewarded ad view\nwhere: \"{ad_network} != 'test'\"\n", "") == \
        old.replace("label: Ad view\n", "")
    assert studio_project.validate().ok
    assert app.text_input(key="ev_editor.label").value == "Rewarded ad view"


def test_add_from_warehouse_suggests_roles_and_saves_a_valid_table(app, studio_project, payments_table):
    app.switch_page(EVENTS).run()
    assert app.selectbox(key="ev_new.table").value == payments_table
    add_table(app, payments_table)
    assert app.text_input(key="ev_editor.id").value == "payment"
    assert app.multiselect(key="ev_editor.tags").value == ["payment_transaction_event"]
    suggested = {c: app.multiselect(key=col(app, c, "tags")).value
                 for c in ("user_id", "paid_ts", "event_date", "price", "product_id")}
    assert suggested == {"user_id": ["entity_id_column"], "paid_ts": ["event_timestamp_column"],
                         "event_date": ["date_column"], "price": ["transaction_amount_column"], "product_id": []}
    assert app.selectbox(key=col(app, "price", "data_type")).value == "NUMBER"
    app.text_input(key="ev_editor.id").input("shop_payment").run()
    app.text_input(key="ev_editor.label").input("Shop payment").run()
    app.checkbox(key=col(app, "product_id", "include")).uncheck().run()
    app.button(key="ev_editor_save").click().run()
    assert not app.exception and not errors_of(app)
    assert any("Saved **shop_payment** to `userentity/events/shop_payment.yml`" in t.value for t in app.toast)
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


def test_add_with_a_missing_role_shows_the_error_and_writes_nothing(app, studio_project, payments_table):
    before = config_hashes(studio_project)
    app.switch_page(EVENTS).run()
    add_table(app, payments_table)
    app.multiselect(key=col(app, "user_id", "tags")).set_value([]).run()
    assert not app.exception
    assert any("no column is tagged entity_id_column" in e for e in errors_of(app))
    assert app.button(key="ev_editor_save").disabled
    assert config_hashes(studio_project) == before
    assert not (studio_project.root / "userentity/events/payment.yml").exists()


def test_add_with_a_taken_id_is_refused(app, studio_project, payments_table):
    before = config_hashes(studio_project)
    app.switch_page(EVENTS).run()
    add_table(app, payments_table, "purchase")
    assert any("'purchase' already exists" in e for e in errors_of(app))
    assert app.button(key="ev_editor_save").disabled
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
    assert app.selectbox(key="ev_new.table").value == "game.level_events"
    add_table(app, "game.level_events")
    leaves = ["level_started.level", "level_started.attempt.number", "level_started.attempt.won"]
    types = {c: app.selectbox(key=col(app, c, "data_type")).value for c in ["user_id", "event_ts", *leaves]}
    assert types == {"user_id": "STRING", "event_ts": "DATETIME", "level_started.level": "INTEGER",
                     "level_started.attempt.number": "INTEGER", "level_started.attempt.won": "BOOLEAN"}
    event_id = app.text_input(key="ev_editor.id").value
    app.button(key="ev_editor_save").click().run()
    assert not app.exception and not errors_of(app)
    saved = studio_project.files().events[event_id]
    assert list(saved.model.columns) == ["user_id", "event_ts", *leaves]
    report = studio_project.validate(dry_run=True)
    assert report.ok and report.dry_run == "passed", [i.format() for i in report.errors]
