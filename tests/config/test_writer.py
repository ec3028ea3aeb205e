"""Writing config objects back to YAML: minimal, byte-stable, comment-preserving edits."""

from __future__ import annotations

import datetime as dt
import functools
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asemic_core.config import writer
from asemic_core.config.loader import load_project
from asemic_core.config.models import DeploymentConfig, EntityConfig, EventTable, Kpi, Property
from asemic_core.config.model_data import to_yaml_data
from asemic_core.config.writer import (
    delete_kpi,
    delete_property,
    save_deployment,
    save_entity_config,
    save_event,
    save_kpi,
    save_object,
    save_property,
)
from asemic_core.config.yaml_edit import edit_yaml_text
from asemic_core.config.yaml_io import parse_yaml
from asemic_core.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# --------------------------------------------------------------------------- fixture

ASEMIC = """\
# $schema: https://example.com/asemic.json
# the local warehouse
warehouse: {type: duckdb, path: warehouse.duckdb}
"""

CONFIG = """\
# $schema: http://schema.asemicanalytics.com/v1/semantic_layer/entity_config.json
data_model_schema: asemic_model  # where tables go
cohorted_daily_kpis_days: [0, 1, 7, 28]

# a user is active for this many days
active_days: 30
"""

LOGIN = """\
# $schema: http://schema.asemicanalytics.com/v1/semantic_layer/action_logical_table.json
table_name: game.sessions
tags: [activity_action, registration_event]
label: Login
columns:
  user_id:
    data_type: STRING
    tags: [entity_id_column]
  # when the session started
  event_ts:
    data_type: DATETIME
    tags: [action_timestamp_column]
  platform: {data_type: STRING, tags: [registration_property]}
  country:
    data_type: STRING
    label: Country   # ISO code
"""

PURCHASE = """\
table_name: game.purchases
tags:
  - payment_transaction_event
  - activity_event
where: "{amount} > 0"
columns:
  user_id: {data_type: STRING, tags: [entity_id_column]}
  ts: {data_type: DATETIME, tags: [event_timestamp_column]}
  amount:
    data_type: NUMBER
    tags: [transaction_amount_column]
"""

PROPERTIES = """\
# $schema: http://schema.asemicanalytics.com/v1/semantic_layer/entity_properties.json
# Revenue properties. Keep this header.
properties:
  # IAP revenue per day (legacy keys on purpose)
  revenue_on_day:
    data_type: NUMBER
    label: Revenue   # shown in the UI
    can_filter: true
    action_property: {source_action: purchase, select: '{amount}', aggregate_function: sum, default_value: 0}

  payers_on_day:
    data_type: INTEGER
    can_filter: false
    # one if the user paid that day
    action_property:
      source_action: purchase
      select: 1
      aggregate_function: none
      default_value: 0

  # --- derived ---
  spend_profile:
    data_type: NUMBER
    description: Weighted spend
    computed_property:
      select: >
        SAFE_DIVIDE({revenue_on_day},
        {payers_on_day})

  payment_segment:
    data_type: STRING
    can_group_by: true
    computed_property:
      select: '{revenue_lifetime}'
      value_mappings:
      - range: {to: 0}
        new_value: Non Payer
      - range: {from: 0, to: 20}   # small spenders
        new_value: Minnow
      - {range: {from: 20}, new_value: Whale}

  revenue_lifetime:
    data_type: NUMBER
    lifetime_property: {source_property: revenue_on_day, merge_function: sum}
  platform:
    data_type: STRING
    can_group_by: true
    first_appearance_property:
  launch_week_revenue:
    data_type: NUMBER
    fixed_window_property:
      source_property: revenue_on_day
      window_function: sum
      date_from: 2024-01-01
      date_to: '2024-01-07'
# end of revenue properties
"""

ACTIVITY_PROPERTIES = """\
properties:
  dau:
    data_type: INTEGER
    event_property: {source_event: login, select: 1, aggregate_function: none, default_value: 0}
  days_active_7d:
    data_type: INTEGER
    sliding_window_property:
      source_property: dau
      window_function: sum
      relative_days_from: -6
      relative_days_to: 0
"""

KPIS = """\
# $schema: http://schema.asemicanalytics.com/v1/semantic_layer/entity_kpis.json
kpis:
  # daily revenue
  revenue:
    select: SUM({property.revenue_on_day})
    unit: {symbol: $, is_prefix: true}
    x_axis: {date: {}, cohort_day: {}}

  dau:
    label: DAU
    select: SUM({property.dau})
    x_axis:
      date: {total_function: avg}
      cohort_day:

  retention_d{}:
    label: Retention D{}
    select: "SAFE_DIVIDE({kpi.dau}, SUM({property.cohort_size}))"
    where: '{property.cohort_day} = {}'
    x_axis:
      date: {}
    template: [1, 7]
"""

FILES = {
    "asemic.yml": ASEMIC,
    "userentity/config.yml": CONFIG,
    "userentity/events/login.yml": LOGIN,
    "userentity/actions/purchase.yml": PURCHASE,
    "userentity/properties/revenue.yml": PROPERTIES,
    "userentity/properties/activity.yml": ACTIVITY_PROPERTIES,
    "userentity/kpis/main.yml": KPIS,
}


def make_project(root: Path, files: dict[str, str] = FILES) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return root


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj")
    loaded = load_project(root)
    assert loaded.ok, [issue.format() for issue in loaded.issues]
    return root


def read(root: Path, rel: str) -> str:
    return (root / rel).read_bytes().decode("utf-8")


def all_models(root: Path) -> dict[tuple[str, str], object]:
    loaded = load_project(root)
    assert loaded.ok, [issue.format() for issue in loaded.issues]
    out: dict[tuple[str, str], object] = {
        ("deployment", ""): loaded.deployment.model,
        ("entity", ""): loaded.entity.model,
    }
    out.update({("event", k): v.model for k, v in loaded.events.items()})
    out.update({("property", k): v.model for k, v in loaded.properties.items()})
    out.update({("kpi", k): v.model for k, v in loaded.kpis.items()})
    return out


def object_region(text: str, rel: str, key_path: tuple) -> tuple[int, int]:
    """0-based [start, end) lines of a collection object: its key line up to the next
    sibling (or the next top-level key / EOF), computed independently of the writer."""
    doc, _ = parse_yaml(text, rel)
    siblings = list(doc.data[key_path[0]])
    start = doc.lines[key_path] - 1
    index = siblings.index(key_path[1])
    lines = text.splitlines(keepends=True)
    if index + 1 < len(siblings):
        end = doc.lines[(key_path[0], siblings[index + 1])] - 1
    else:
        end = len(lines)
    return start, end


def assert_only_region_changed(before: str, after: str, start: int, end: int) -> None:
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    assert new[:start] == old[:start], "lines above the object changed"
    tail = len(old) - end
    assert tail >= 0
    if tail:
        assert new[-tail:] == old[-tail:], "lines below the object changed"
    assert len(new) - tail >= start


# ------------------------------------------------------------------------ to_yaml_data


def test_to_yaml_data_uses_canonical_names_and_field_order():
    prop = Property.model_validate({
        "action_property": {"default_value": 0, "aggregate_function": "sum", "select": "{amount}",
                            "source_action": "purchase"},
        "can_filter": False,
        "data_type": "NUMBER",
    })
    data = to_yaml_data(prop)
    assert list(data) == ["data_type", "can_filter", "event_property"]
    assert data["data_type"] == "NUMBER" and type(data["data_type"]) is str
    assert list(data["event_property"]) == ["source_event", "select", "aggregate_function", "default_value"]

    mapped = Property.model_validate({
        "data_type": "STRING",
        "computed_property": {"select": "{x}", "value_mappings": [
            {"range": {"from": 1, "to": 2}, "new_value": "a"}, {"constant": 3, "new_value": "b"}]},
    })
    assert to_yaml_data(mapped)["computed_property"]["value_mappings"] == [
        {"range": {"from": 1, "to": 2}, "new_value": "a"}, {"constant": 3, "new_value": "b"}]

    fixed = Property.model_validate({"data_type": "NUMBER", "fixed_window_property": {
        "source_property": "r", "window_function": "sum", "date_from": "2024-01-01", "date_to": "2024-01-07"}})
    assert to_yaml_data(fixed)["fixed_window_property"]["date_from"] == dt.date(2024, 1, 1)

    bare = Property.model_validate({"data_type": "STRING", "first_appearance_property": None})
    assert to_yaml_data(bare) == {"data_type": "STRING", "registration_property": {}}

    kpi = Kpi.model_validate({"select": "SUM({property.x})", "x_axis": {"date": None}, "label": None})
    assert to_yaml_data(kpi) == {"select": "SUM({property.x})", "x_axis": {"date": {}}}


# --------------------------------------------------------- 1. unchanged -> no bytes change


def test_saving_unchanged_objects_writes_nothing(proj, monkeypatch):
    before = {rel: read(proj, rel) for rel in FILES}
    writes = []
    monkeypatch.setattr(writer, "_atomic_write", lambda path, text: writes.append(path))
    loaded = load_project(proj)
    for pid, loc in loaded.properties.items():
        save_property(proj, pid, loc.model)
    for kid, loc in loaded.kpis.items():
        save_kpi(proj, kid, loc.model)
    for eid, loc in loaded.events.items():
        save_event(proj, eid, loc.model)
    save_entity_config(proj, loaded.entity.model)
    save_deployment(proj, loaded.deployment.model)
    assert writes == []
    assert {rel: read(proj, rel) for rel in FILES} == before


@pytest.mark.parametrize("source", ["inline", "asemic_current", "asemic_2024"])
def test_rewrite_path_is_byte_stable(source, tmp_path):
    root = make_project(tmp_path / "p") if source == "inline" else FIXTURES / source
    loaded = load_project(root)
    assert loaded.ok
    located = [*loaded.properties.values(), *loaded.kpis.values(), *loaded.events.values(),
               loaded.entity, loaded.deployment]
    for loc in located:
        text = loc.doc.text
        assert edit_yaml_text(text, loc.file, loc.path, loc.model) == text, loc.id
        # the generic core with the object's canonical data is byte-stable as well
        assert edit_yaml_text(text, loc.file, loc.path, to_yaml_data(loc.model),
                              model_type=type(loc.model)) == text, loc.id


# ------------------------------------------------------- 2./3. edits stay inside the object


def test_edit_changes_only_that_objects_lines(proj):
    rel = "userentity/properties/revenue.yml"
    before = read(proj, rel)
    start, end = object_region(before, rel, ("properties", "payers_on_day"))
    model = load_project(proj).properties["payers_on_day"].model
    edited = model.model_copy(update={"label": "Payers", "can_group_by": True})
    assert save_property(proj, "payers_on_day", edited) == rel
    after = read(proj, rel)
    assert after != before
    assert_only_region_changed(before, after, start, end)
    assert after.startswith("# $schema: http://schema.asemicanalytics.com/v1/semantic_layer/entity_properties.json\n"
                            "# Revenue properties. Keep this header.\n")
    assert after.endswith("# end of revenue properties\n")
    for line in ("  # IAP revenue per day (legacy keys on purpose)\n", "  # --- derived ---\n",
                 "    action_property: {source_action: purchase, select: '{amount}', aggregate_function: sum, "
                 "default_value: 0}\n",
                 "      - {range: {from: 20}, new_value: Whale}\n"):
        assert line in after
    assert after.replace(
        "    data_type: INTEGER\n    label: Payers\n    can_filter: false\n    can_group_by: true\n",
        "    data_type: INTEGER\n    can_filter: false\n") == before
    assert load_project(proj).properties["payers_on_day"].model == edited


def test_edit_keeps_unchanged_fields_comments_and_legacy_keys(proj):
    rel = "userentity/properties/revenue.yml"
    before = read(proj, rel)
    model = load_project(proj).properties["payers_on_day"].model
    edited = model.model_copy(update={
        "event_property": model.event_property.model_copy(update={"aggregate_function": "max", "select": "{amount}"})
    })
    save_property(proj, "payers_on_day", edited)
    after = read(proj, rel)
    expected = before.replace(
        "      select: 1\n      aggregate_function: none\n",
        "      select: '{amount}'\n      aggregate_function: max\n",
    )
    assert after == expected
    assert "    # one if the user paid that day\n    action_property:\n      source_action: purchase\n" in after


def test_edit_inside_flow_mapping_keeps_flow_style_and_legacy_keys(proj):
    rel = "userentity/properties/revenue.yml"
    before = read(proj, rel)
    model = load_project(proj).properties["revenue_on_day"].model
    edited = model.model_copy(update={
        "label": None,  # cleared -> the key is removed (with its comment)
        "event_property": model.event_property.model_copy(update={"select": "{amount} * {fx_rate}"}),
    })
    edited.model_fields_set.discard("label")
    save_property(proj, "revenue_on_day", edited)
    after = read(proj, rel)
    assert after == before.replace("    label: Revenue   # shown in the UI\n", "").replace(
        "select: '{amount}', aggregate", "select: '{amount} * {fx_rate}', aggregate")
    assert load_project(proj).properties["revenue_on_day"].model == edited


def test_edit_folded_multiline_select_keeps_block_style(proj):
    rel = "userentity/properties/revenue.yml"
    before = read(proj, rel)
    model = load_project(proj).properties["spend_profile"].model
    new_select = "SAFE_DIVIDE({revenue_on_day}, {payers_on_day} + 1)\n"
    edited = model.model_copy(update={
        "computed_property": model.computed_property.model_copy(update={"select": new_select})})
    save_property(proj, "spend_profile", edited)
    after = read(proj, rel)
    start, end = object_region(before, rel, ("properties", "spend_profile"))
    assert_only_region_changed(before, after, start, end)
    assert "    description: Weighted spend\n    computed_property:\n      select: >\n" in after
    assert load_project(proj).properties["spend_profile"].model.computed_property.select == new_select


def test_edit_value_mapping_item_keeps_other_items_and_comments(proj):
    rel = "userentity/properties/revenue.yml"
    before = read(proj, rel)
    model = load_project(proj).properties["payment_segment"].model
    mappings = list(model.computed_property.value_mappings)
    mappings[1] = mappings[1].model_copy(update={"new_value": "Small fish"})
    edited = model.model_copy(update={
        "computed_property": model.computed_property.model_copy(update={"value_mappings": mappings})})
    save_property(proj, "payment_segment", edited)
    assert read(proj, rel) == before.replace("        new_value: Minnow\n", "        new_value: Small fish\n")


def test_edit_kpi_flow_axis_and_bare_axis(proj):
    rel = "userentity/kpis/main.yml"
    before = read(proj, rel)
    loaded = load_project(proj)
    revenue = loaded.kpis["revenue"].model
    save_kpi(proj, "revenue", revenue.model_copy(update={"x_axis": {"date": revenue.x_axis["date"]}}))
    after = read(proj, rel)
    assert after == before.replace("    x_axis: {date: {}, cohort_day: {}}\n", "    x_axis: {date: {}}\n")

    dau = loaded.kpis["dau"].model
    save_kpi(proj, "dau", dau.model_copy(update={"label": "Daily active users"}))
    assert read(proj, rel) == after.replace("    label: DAU\n", "    label: Daily active users\n")


def test_legacy_tag_names_are_kept_when_editing_something_else(proj):
    rel = "userentity/events/login.yml"
    before = read(proj, rel)
    model = load_project(proj).events["login"].model
    columns = dict(model.columns)
    columns["country"] = columns["country"].model_copy(update={"label": "Country code"})
    save_event(proj, "login", model.model_copy(update={"columns": columns}))
    after = read(proj, rel)
    # the end-of-line comment stays (ruamel keeps its column when the value still fits)
    assert after == before.replace("    label: Country   # ISO code\n", "    label: Country code # ISO code\n")


def test_event_new_column_and_where(proj):
    rel = "userentity/actions/purchase.yml"
    before = read(proj, rel)
    model = load_project(proj).events["purchase"].model
    data = to_yaml_data(model)
    data["where"] = "{amount} > 0 AND {currency} = 'USD'"
    data["columns"]["currency"] = {"data_type": "STRING", "label": "Currency"}
    edited = EventTable.model_validate(data)
    assert save_event(proj, "purchase", edited) == rel
    after = read(proj, rel)
    assert after == before.replace(
        'where: "{amount} > 0"\n', 'where: "{amount} > 0 AND {currency} = \'USD\'"\n'
    ) + "  currency:\n    data_type: STRING\n    label: Currency\n"
    assert load_project(proj).events["purchase"].model == edited


def test_entity_config_edit_and_new_section(proj):
    rel = "userentity/config.yml"
    before = read(proj, rel)
    model = load_project(proj).entity.model
    data = to_yaml_data(model)
    data["active_days"] = 14
    data["cohorted_daily_kpis_days"] = [0, 1, 7]
    data["model_settings"] = {"lookback_days": 2, "start_date": dt.date(2024, 1, 1)}
    save_entity_config(proj, EntityConfig.model_validate(data))
    after = read(proj, rel)
    assert after == (
        "# $schema: http://schema.asemicanalytics.com/v1/semantic_layer/entity_config.json\n"
        "data_model_schema: asemic_model  # where tables go\n"
        "cohorted_daily_kpis_days: [0, 1, 7]\n"
        "\n"
        "# a user is active for this many days\n"
        "active_days: 14\n"
        "model_settings:\n"
        "  lookback_days: 2\n"
        "  start_date: 2024-01-01\n"
    )
    assert load_project(proj).entity.model == EntityConfig.model_validate(data)
    assert before in after.replace("[0, 1, 7]", "[0, 1, 7, 28]").replace("active_days: 14", "active_days: 30")


def test_deployment_edit(proj):
    model = load_project(proj).deployment.model
    edited = DeploymentConfig.model_validate({**to_yaml_data(model), "name": "Demo",
                                              "model": {"path": "out/model"}})
    save_deployment(proj, edited)
    assert read(proj, "asemic.yml") == (
        "# $schema: https://example.com/asemic.json\n"
        "# the local warehouse\n"
        "name: Demo\n"
        "warehouse: {type: duckdb, path: warehouse.duckdb}\n"
        "model:\n"
        "  path: out/model\n"
    )


def test_list_form_columns_keep_their_shape(tmp_path):
    files = dict(FILES)
    files["userentity/actions/purchase.yml"] = """\
table_name: game.purchases
tags: [payment_transaction_event, activity_event]
columns:
- {id: user_id, data_type: STRING, tags: [entity_id_column]}
- id: ts
  data_type: DATETIME
  tags: [event_timestamp_column]
"""
    root = make_project(tmp_path / "p", files)
    rel = "userentity/actions/purchase.yml"
    before = read(root, rel)
    model = load_project(root).events["purchase"].model
    columns = dict(model.columns)
    columns["ts"] = columns["ts"].model_copy(update={"label": "Time"})
    save_event(root, "purchase", model.model_copy(update={"columns": columns}))
    # the new key goes to its canonical place (label before tags)
    assert read(root, rel) == before.replace("  data_type: DATETIME\n", "  data_type: DATETIME\n  label: Time\n")


# ----------------------------------------------------------------- 4. new objects


def test_new_property_goes_to_its_own_file_in_canonical_order(proj):
    prop = Property.model_validate({
        "event_property": {"where": "{amount} > 100", "aggregate_function": "count", "select": "{amount}",
                           "source_event": "purchase"},
        "label": "Big purchases",
        "data_type": "INTEGER",
        "can_group_by": False,
    })
    rel = save_property(proj, "big_purchases", prop)
    assert rel == "userentity/properties/big_purchases.yml"
    assert read(proj, rel) == (
        "properties:\n"
        "  big_purchases:\n"
        "    data_type: INTEGER\n"
        "    label: Big purchases\n"
        "    can_group_by: false\n"
        "    event_property:\n"
        "      source_event: purchase\n"
        "      select: '{amount}'\n"
        "      aggregate_function: count\n"
        "      where: '{amount} > 100'\n"
    )
    assert load_project(proj).properties["big_purchases"].model == prop


def test_new_property_appended_to_given_file(proj):
    rel = "userentity/properties/revenue.yml"
    before = read(proj, rel)
    prop = Property.model_validate({
        "data_type": "STRING",
        "computed_property": {"select": "IF({revenue_lifetime} > 0,\n   'payer', 'non payer')\n",
                              "value_mappings": [{"range": {"from": 0}, "new_value": "x"}]},
    })
    assert save_property(proj, "payer_kind", prop, file=rel) == rel
    after = read(proj, rel)
    block = (
        "\n"
        "  payer_kind:\n"
        "    data_type: STRING\n"
        "    computed_property:\n"
        "      select: |\n"
        "        IF({revenue_lifetime} > 0,\n"
        "           'payer', 'non payer')\n"
        "      value_mappings:\n"  # this file writes sequences without offset
        "      - range:\n"
        "          from: 0\n"
        "        new_value: x\n"
    )
    assert after == before.replace("# end of revenue properties\n", block + "# end of revenue properties\n")
    assert load_project(proj).properties["payer_kind"].model == prop


def test_new_kpi_quotes_strings_only_where_needed(proj):
    kpi = Kpi.model_validate({
        "select": "{kpi.revenue} / {kpi.dau}",
        "x_axis": {"date": {}, "cohort_day": {"total_function": "avg"}},
        "label": "ARPDAU: all",
        "description": "yes",
        "unit": {"symbol": "$", "is_prefix": True},
        "where": "{property.platform} = 'ios'",
        "template": ["1", 2],
    })
    rel = save_kpi(proj, "arpdau", kpi)
    assert read(proj, rel) == (
        "kpis:\n"
        "  arpdau:\n"
        "    select: '{kpi.revenue} / {kpi.dau}'\n"
        "    x_axis:\n"
        "      date: {}\n"
        "      cohort_day:\n"
        "        total_function: avg\n"
        "    where: \"{property.platform} = 'ios'\"\n"
        "    label: 'ARPDAU: all'\n"
        "    description: yes\n"
        "    unit:\n"
        "      symbol: $\n"
        "      is_prefix: true\n"
        "    template:\n"
        "      - '1'\n"
        "      - 2\n"
    )
    assert load_project(proj).kpis["arpdau"].model == kpi


TRICKY = [
    "SUM({amount})", "{amount} * 2", "{a}", "yes", "no", "on", "null", "~", "true", "1", "1.5", "0x1F", "1e3",
    "2024-01-01", "a: b", "a #b", "#x", "- x", "-x", "? x", ": x", "x:", "[x]", "]", "{", "}", "@x", "`x", "!x",
    "&x", "*x", "%x", "|x", ">x", "'q'", '"dq"', " lead", "trail ", "", " ", "multi\nline", "tab\there",
    "nl at end\n", "two\n\nparas\n", "é ü 中文 🎉", "back\\slash", "a,b", "x\u2028y", "ctl\x07", "cr\rx",
    "---", "...", "= 1", "<<", "line\n  indented\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_any_string_round_trips(proj, text):
    prop = Property.model_validate({"data_type": "STRING", "label": text, "description": text,
                                    "computed_property": {"select": text or "1"}})
    save_property(proj, "tricky", prop, file="userentity/properties/activity.yml")
    assert load_project(proj).properties["tricky"].model == prop
    edited = prop.model_copy(update={"label": text + "!"})
    save_property(proj, "tricky", edited)
    assert load_project(proj).properties["tricky"].model == edited


# ------------------------------------------------------------------ deletion / move


def test_delete_property_keeps_neighbours_and_blank_lines(proj):
    rel = "userentity/properties/revenue.yml"
    before = read(proj, rel)
    assert delete_property(proj, "payers_on_day") == rel
    after = read(proj, rel)
    removed = before[before.index("  payers_on_day:\n"):before.index("  # --- derived ---\n")]
    assert after == before.replace(removed, "")
    assert "payers_on_day" not in load_project(proj).properties

    delete_property(proj, "launch_week_revenue")
    assert read(proj, rel).endswith(" merge_function: sum}\n  platform:\n    data_type: STRING\n"
                                    "    can_group_by: true\n    first_appearance_property:\n"
                                    "# end of revenue properties\n")


def test_delete_first_and_last_kpis(proj):
    rel = "userentity/kpis/main.yml"
    delete_kpi(proj, "revenue")
    delete_kpi(proj, "retention_d{}")
    assert read(proj, rel) == (
        "# $schema: http://schema.asemicanalytics.com/v1/semantic_layer/entity_kpis.json\n"
        "kpis:\n"
        "  # daily revenue\n"
        "  dau:\n"
        "    label: DAU\n"
        "    select: SUM({property.dau})\n"
        "    x_axis:\n"
        "      date: {total_function: avg}\n"
        "      cohort_day:\n"
    )
    delete_kpi(proj, "dau")
    assert load_project(proj).kpis == {}
    assert load_project(proj).ok


def test_delete_all_properties_of_a_file_then_add_again(proj):
    rel = "userentity/properties/activity.yml"
    delete_property(proj, "days_active_7d")
    delete_property(proj, "dau")
    assert read(proj, rel) == "properties:\n"
    prop = Property.model_validate({"data_type": "INTEGER", "registration_property": {}})
    save_property(proj, "again", prop, file=rel)
    assert read(proj, rel) == "properties:\n  again:\n    data_type: INTEGER\n    registration_property: {}\n"


def test_move_property_to_another_file(proj):
    model = load_project(proj).properties["revenue_lifetime"].model
    rel = save_property(proj, "revenue_lifetime", model, file="userentity/properties/activity.yml")
    assert rel == "userentity/properties/activity.yml"
    loaded = load_project(proj)
    assert loaded.ok
    assert loaded.properties["revenue_lifetime"].file == rel
    assert loaded.properties["revenue_lifetime"].model == model
    assert "revenue_lifetime:" not in read(proj, "userentity/properties/revenue.yml")


# ---------------------------------------------------------------------------- errors


def test_errors_name_the_file(proj):
    with pytest.raises(ConfigError, match="not found"):
        delete_property(proj, "nope")
    with pytest.raises(ConfigError, match="not found"):
        delete_kpi(proj, "nope")
    model = load_project(proj).properties["dau"].model
    (proj / "userentity/properties/broken.yml").write_text("properties:\n  x: [1\n")
    # an existing property in a readable file can still be saved...
    save_property(proj, "dau", model.model_copy(update={"label": "DAU"}))
    # ...but a new one cannot: it might be defined in the file that does not parse
    with pytest.raises(ConfigError, match="userentity/properties/broken.yml"):
        save_property(proj, "brand_new", model)
    with pytest.raises(ConfigError, match="userentity/properties/broken.yml"):
        save_property(proj, "x", model, file="userentity/properties/broken.yml")
    (proj / "userentity/config.yml").write_text("data_model_schema: [\n")
    with pytest.raises(ConfigError, match="userentity/config.yml"):
        save_entity_config(proj, EntityConfig(data_model_schema="m", cohorted_daily_kpis_days=[0], active_days=3))
    with pytest.raises(ConfigError, match="under userentity/kpis/"):
        save_kpi(proj, "k", Kpi(select="SUM({property.dau})", x_axis={"date": {}}), file="elsewhere/k.yml")
    with pytest.raises(ConfigError, match="invalid event id"):
        save_event(proj, "../evil", EventTable.model_validate(
            {"table_name": "a.b", "columns": {"u": {"data_type": "STRING"}}}))


def test_edit_yaml_text_refuses_unparsable_text():
    with pytest.raises(ConfigError, match="x.yml"):
        edit_yaml_text("a: [\n", "x.yml", ("a",), {"b": 1})


# ------------------------------------------------------------------ file-level details


def test_atomic_write_preserves_mode_and_leaves_no_temp_files(proj):
    rel = "userentity/kpis/main.yml"
    os.chmod(proj / rel, 0o640)
    model = load_project(proj).kpis["dau"].model
    save_kpi(proj, "dau", model.model_copy(update={"label": "Daily"}))
    assert stat.S_IMODE((proj / rel).stat().st_mode) == 0o640
    assert sorted(p.name for p in (proj / "userentity/kpis").iterdir()) == ["main.yml"]


def test_crlf_and_missing_final_newline_are_kept(tmp_path):
    files = dict(FILES)
    files["userentity/kpis/main.yml"] = "kpis:\r\n  a:\r\n    select: SUM({property.dau})\r\n" \
                                        "    x_axis: {date: {}}\r\n  b:\r\n    select: COUNT({property.dau})\r\n" \
                                        "    x_axis: {date: {}}"
    root = make_project(tmp_path / "p", files)
    model = load_project(root).kpis["a"].model
    save_kpi(root, "a", model.model_copy(update={"label": "A"}))
    assert read(root, "userentity/kpis/main.yml") == (
        "kpis:\r\n  a:\r\n    select: SUM({property.dau})\r\n    x_axis: {date: {}}\r\n    label: A\r\n"
        "  b:\r\n    select: COUNT({property.dau})\r\n    x_axis: {date: {}}"
    )


def test_four_space_indentation_is_detected(tmp_path):
    files = dict(FILES)
    files["userentity/properties/activity.yml"] = (
        "properties:\n"
        "    dau:\n"
        "        data_type: INTEGER\n"
        "        event_property:\n"
        "            source_event: login\n"
        "            select: 1\n"
        "            aggregate_function: none\n"
    )
    root = make_project(tmp_path / "p", files)
    prop = Property.model_validate({"data_type": "NUMBER", "lifetime_property": {
        "source_property": "dau", "merge_function": "max"}})
    save_property(root, "ever", prop, file="userentity/properties/activity.yml")
    assert read(root, "userentity/properties/activity.yml").endswith(
        "\n"
        "    ever:\n"
        "        data_type: NUMBER\n"
        "        lifetime_property:\n"
        "            source_property: dau\n"
        "            merge_function: max\n"
    )


def test_flow_style_collection_falls_back_safely(tmp_path):
    files = dict(FILES)
    files["userentity/properties/activity.yml"] = (
        "# flow!\n"
        "properties: {dau: {data_type: INTEGER, event_property: {source_event: login, select: 1,\n"
        "    aggregate_function: none}}}\n"
    )
    root = make_project(tmp_path / "p", files)
    before = all_models(root)
    model = before[("property", "dau")]
    edited = model.model_copy(update={"label": "DAU"})
    save_property(root, "dau", edited)
    after = all_models(root)
    assert after.pop(("property", "dau")) == edited
    before.pop(("property", "dau"))
    assert after == before
    assert read(root, "userentity/properties/activity.yml").startswith("# flow!\n")


def test_save_object_with_plain_data(proj):
    rel = "userentity/kpis/main.yml"
    assert save_object(proj, rel, ("kpis", "plain"), {"select": "SUM({property.dau})", "x_axis": {"date": {}}})
    assert not save_object(proj, rel, ("kpis", "plain"), {"select": "SUM({property.dau})", "x_axis": {"date": {}}})
    assert load_project(proj).kpis["plain"].model == Kpi(select="SUM({property.dau})", x_axis={"date": {}})


# ------------------------------------------------------------ 5. round trip (hypothesis)

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFF), max_size=25
)
expressions = st.one_of(
    st.sampled_from(["SUM({amount})", "{amount} * 2", "1", "COUNT(*)", "{a} > 0 AND {b} = 'x'",
                     "SAFE_DIVIDE({x},\n  {y})\n", "# not a comment", "a: b"]),
    texts.filter(lambda s: s != ""),
)
optional_texts = st.one_of(st.none(), texts)


def _set(model, **changes):
    """A copy with ``changes``; a None value means "unset" (the key disappears)."""
    data = to_yaml_data(model)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return type(model).model_validate(data)


@functools.cache
def _fixture_loaded():
    with tempfile.TemporaryDirectory() as tmp:
        return load_project(make_project(Path(tmp) / "p"))


@st.composite
def edits(draw):
    """(kind, id, new model or None for delete); the model is built from the fixture."""
    loaded = _fixture_loaded()
    kind = draw(st.sampled_from(["property", "kpi", "event", "entity", "new_property", "new_kpi", "delete"]))
    if kind == "property":
        pid = draw(st.sampled_from(sorted(loaded.properties)))
        model = loaded.properties[pid].model
        changes = {"label": draw(optional_texts), "description": draw(optional_texts),
                   "can_group_by": draw(st.booleans())}
        definition = to_yaml_data(model.definition)
        if model.kind in ("event_property", "computed_property"):
            definition["select"] = draw(expressions)
        if model.kind == "event_property":
            definition["aggregate_function"] = draw(st.sampled_from(["sum", "max", "none", "count"]))
            where = draw(st.one_of(st.none(), expressions))
            definition.pop("where", None)
            if where is not None:
                definition["where"] = where
        if model.kind == "computed_property" and draw(st.booleans()):
            definition["value_mappings"] = draw(st.lists(st.one_of(
                st.builds(lambda c, v: {"constant": c, "new_value": v}, st.integers(-5, 5), texts),
                st.builds(lambda a, v: {"range": {"from": a}, "new_value": v}, st.integers(0, 50), texts),
            ), min_size=1, max_size=3))
        changes[model.kind] = definition
        return "property", pid, _set(model, **changes)
    if kind == "kpi":
        kid = draw(st.sampled_from(sorted(loaded.kpis)))
        model = loaded.kpis[kid].model
        axes = draw(st.sampled_from([{"date": {}}, {"cohort_day": {}}, {"date": {"total_function": "avg"},
                                                                       "cohort_day": {}}]))
        return "kpi", kid, _set(model, select=draw(expressions), label=draw(optional_texts), x_axis=axes,
                                where=draw(st.one_of(st.none(), expressions)))
    if kind == "event":
        eid = draw(st.sampled_from(sorted(loaded.events)))
        model = loaded.events[eid].model
        data = to_yaml_data(model)
        column = draw(st.sampled_from(sorted(data["columns"])))
        label = draw(optional_texts)
        data["columns"][column].pop("label", None)
        if label is not None:
            data["columns"][column]["label"] = label
        if draw(st.booleans()):
            data["columns"]["extra_col"] = {"data_type": "STRING", "description": draw(texts)}
        where = draw(st.one_of(st.none(), expressions))
        data.pop("where", None)
        if where is not None:
            data["where"] = where
        return "event", eid, EventTable.model_validate(data)
    if kind == "entity":
        model = loaded.entity.model
        return "entity", "", _set(model, active_days=draw(st.integers(1, 60)),
                                  model_settings={"lookback_days": draw(st.integers(0, 5))})
    if kind == "new_property":
        return "property", draw(st.sampled_from(["fresh", "fresh_2"])), Property.model_validate({
            "data_type": "STRING", "label": draw(optional_texts),
            "computed_property": {"select": draw(expressions)}})
    if kind == "new_kpi":
        return "kpi", "fresh_kpi", Kpi.model_validate({"select": draw(expressions), "x_axis": {"date": {}},
                                                       "description": draw(optional_texts)})
    collection = draw(st.sampled_from(["property", "kpi"]))
    ids = sorted(loaded.properties if collection == "property" else loaded.kpis)
    return "delete_" + collection, draw(st.sampled_from(ids)), None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit=edits(), target_file=st.sampled_from([None, "userentity/properties/activity.yml"]))
def test_round_trip_random_edits(edit, target_file):
    kind, object_id, model = edit
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp) / "p")
        expected = all_models(root)
        if kind == "property":
            save_property(root, object_id, model, file=target_file if object_id not in
                          {k for (c, k) in expected if c == "property"} else None)
            expected[("property", object_id)] = model
        elif kind == "kpi":
            save_kpi(root, object_id, model)
            expected[("kpi", object_id)] = model
        elif kind == "event":
            save_event(root, object_id, model)
            expected[("event", object_id)] = model
        elif kind == "entity":
            save_entity_config(root, model)
            expected[("entity", "")] = model
        elif kind == "delete_property":
            delete_property(root, object_id)
            del expected[("property", object_id)]
        else:
            delete_kpi(root, object_id)
            del expected[("kpi", object_id)]
        assert all_models(root) == expected
        # saving the same thing again changes nothing
        snapshot = {p: p.read_bytes() for p in Path(root).rglob("*.yml")}
        if model is not None:
            {"property": save_property, "kpi": save_kpi, "event": save_event}.get(
                kind, lambda r, i, m: save_entity_config(r, m))(root, object_id, model)
        assert {p: p.read_bytes() for p in Path(root).rglob("*.yml")} == snapshot


@pytest.mark.parametrize("source", ["asemic_current", "asemic_2024"])
def test_every_fixture_object_edits_in_place(source, tmp_path):
    """Relabel, then delete, every property and KPI of the example projects: only the
    object's own lines change and every other object loads unchanged."""
    import shutil

    root = tmp_path / source
    shutil.copytree(FIXTURES / source, root)
    loaded = load_project(root)
    for collection, objects, save, delete in (
        ("properties", loaded.properties, save_property, delete_property),
        ("kpis", loaded.kpis, save_kpi, delete_kpi),
    ):
        kind = "property" if collection == "properties" else "kpi"
        expected = all_models(root)
        for object_id, loc in objects.items():
            before_text = read(root, loc.file)  # earlier edits moved lines: locate again
            start, end = object_region(before_text, loc.file, loc.path)
            edited = loc.model.model_copy(update={"label": f"{object_id} (edited: {{x}})"})
            assert save(root, object_id, edited) == loc.file
            assert_only_region_changed(before_text, read(root, loc.file), start, end)
            expected[(kind, object_id)] = edited
        assert all_models(root) == expected
        for object_id in list(objects)[::3]:
            expected = all_models(root)
            delete(root, object_id)
            del expected[(kind, object_id)]
            assert all_models(root) == expected
    for event_id, loc in load_project(root).events.items():
        expected = all_models(root)
        edited = loc.model.model_copy(update={"description": "edited"})
        save_event(root, event_id, edited)
        expected[("event", event_id)] = edited
        assert all_models(root) == expected
        assert read(root, loc.file).startswith(loc.doc.text.splitlines(keepends=True)[0])


def test_document_markers_and_numeric_ids(tmp_path):
    files = dict(FILES)
    files["userentity/kpis/main.yml"] = (
        "---\nkpis:\n  2024:\n    select: SUM({property.dau})\n    x_axis: {date: {}}\n...\n"
    )
    root = make_project(tmp_path / "p", files)
    model = load_project(root).kpis["2024"].model
    save_kpi(root, "2024", model.model_copy(update={"label": "Year"}))
    assert read(root, "userentity/kpis/main.yml") == (
        "---\nkpis:\n  2024:\n    select: SUM({property.dau})\n    x_axis: {date: {}}\n    label: Year\n...\n"
    )
    delete_kpi(root, "2024")
    assert read(root, "userentity/kpis/main.yml") == "---\nkpis:\n...\n"
