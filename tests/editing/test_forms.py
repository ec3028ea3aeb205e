"""Editor forms: every saved object round-trips through its form; form problems are
issues on the same field paths validation uses; windows in words."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from asemic_core.config.models import Kpi, Property
from asemic_core.editing import forms, preview_shaping, wording
from asemic_core.project import Project

LEGACY_AND_CURRENT = ["asemic_current", "asemic_2024"]


@pytest.fixture(params=LEGACY_AND_CURRENT)
def fixture_files(request, tmp_path):
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "fixtures" / request.param
    shutil.copytree(source, tmp_path / "p")
    return Project(tmp_path / "p").files()


def test_every_saved_property_and_kpi_round_trips_through_its_form(fixture_files) -> None:
    aliases = {"_date", "event_date", "date"}
    for prop_id, located in fixture_files.properties.items():
        model, issues = forms.property_from_form(forms.property_form(prop_id, located.model, located.file))
        assert not issues, (prop_id, issues)
        assert model == located.model, prop_id
    for kpi_id, located in fixture_files.kpis.items():
        model, issues = forms.kpi_from_form(forms.kpi_form(kpi_id, located.model, located.file, aliases))
        assert not issues, (kpi_id, issues)
        assert model == located.model, kpi_id


@pytest.mark.parametrize(("text", "data_type", "value"), [
    ("0", "INTEGER", 0), ("1.5", "NUMBER", 1.5), ("1", "STRING", "1"), ("'0'", None, "0"), ("true", None, True),
    ("dormant", None, "dormant"), ("", "NUMBER", None), ("2026-01-01", "DATE", "2026-01-01"), ("x", "NUMBER", "x"),
])
def test_literals_are_typed_by_the_property(text, data_type, value) -> None:
    assert forms.parse_literal(text, data_type) == value
    assert type(forms.parse_literal(text, data_type)) is type(value)


def test_form_problems_name_the_field() -> None:
    form = forms.new_property_form("sliding_window_property")
    form["id"] = "x"
    model, issues = forms.property_from_form(form)
    assert model is None
    assert [(i.field, i.rule) for i in issues] == [("sliding_window_property.source_property", forms.REQUIRED)]
    form = forms.new_property_form("event_property")
    form["id"] = "x"
    form["event"]["source_event"] = "session"
    _, issues = forms.property_from_form(form)
    assert [(i.field, i.message) for i in issues] == [("event_property.select", "select is required")]
    shown, pending = forms.untouched_required(issues, form)
    assert not shown and pending
    form["touched"] = ["event.select"]
    assert forms.untouched_required(issues, form) == (issues, [])


def test_value_mapping_rows_become_mappings() -> None:
    rows = [{"match": "constant", "constant": "0", "from": "", "to": "", "new_value": "none"},
            {"match": "range", "constant": "", "from": "1", "to": "", "new_value": "some"},
            {"match": "constant", "constant": "", "from": "", "to": "", "new_value": ""}]
    assert forms.mappings_data(rows, "STRING") == [{"constant": 0, "new_value": "none"},
                                                   {"range": {"from": 1}, "new_value": "some"}]


def test_kpi_form_needs_an_axis_and_template_values() -> None:
    form = forms.new_kpi_form()
    form.update(id="k{}", select="SUM({property.x})", template="list", template_values="")
    form["axes"]["date"] = False
    _, issues = forms.kpi_from_form(form)
    assert {i.field for i in issues} == {"x_axis", "template"}
    form["axes"]["date"] = True
    form["template_values"] = "1, 7, ios"
    model, issues = forms.kpi_from_form(form)
    assert not issues and model == Kpi.model_validate(
        {"select": "SUM({property.x})", "x_axis": {"date": {}}, "template": [1, 7, "ios"]})


def test_new_ids_must_be_free_and_valid() -> None:
    form = forms.new_property_form()
    for new_id, expected in (("", "give the new object an id"), ("2x", "not a valid id"), ("dau", "already exists")):
        form["id"] = new_id
        assert expected in forms.id_issues("property", form, {"dau"})[0].message
    form["id"] = "retention_d{}"
    assert forms.id_issues("kpi", form, set()) == []


@pytest.mark.parametrize(("low", "high", "words"), [
    (-6, 0, "the 7 days ending on the day"), (0, 0, "the day itself"), (-7, -1, "the 7 days before the day"),
    (1, 3, "the 3 days after the day"), (2, 4, "days 2 to 4 after the day"), (-9, -3, "days 3 to 9 before the day"),
    (0, 6, "the 7 days starting on the day"), (-2, 2, "from 2 days before to 2 days after the day (5 days)"),
    (-1, -1, "the single day 1 day before the day"), (3, 1, "no days at all (the first day is after the last)"),
])
def test_relative_days_in_words(low, high, words) -> None:
    assert wording.describe_relative_days(low, high) == words


def test_distribution_bins_many_numbers_and_counts_categories() -> None:
    values = pl.DataFrame({"entity_id": ["a"] * 50 + ["b"] * 50, "date": list(range(100)),
                           "value": [float(i) for i in range(100)], "saved_value": [None] * 50 + [1.0] * 50})
    dist = preview_shaping.distribution(values, with_saved=True, bins=10)
    draft = dist.filter(pl.col("definition") == "draft")
    assert draft["user_days"].sum() == 100 and draft.height == 10
    saved = dist.filter(pl.col("definition") == "saved")
    assert dict(zip(saved["bucket"], saved["user_days"])) == {"0–9.9": 50, "(null)": 50}  # bins shared
    assert preview_shaping.example_users(values, with_saved=True, count=1) == ["a"]


def test_property_of_every_kind_validates_through_the_model() -> None:
    form = forms.new_property_form("fixed_window_property")
    form["id"] = "x"
    form["window"].update(source_property="dau", date_from=None)
    _, issues = forms.property_from_form(form)
    assert [i.field for i in issues] == ["fixed_window_property.date_from", "fixed_window_property.date_to"]
    form["window"]["source"] = "computed"
    form["inline_computed"]["select"] = "{a} + 1"
    import datetime as dt

    form["window"].update(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 31))
    model, issues = forms.property_from_form(form)
    assert not issues
    assert model == Property.model_validate({"data_type": "INTEGER", "fixed_window_property": {
        "window_function": "sum", "date_from": "2026-01-01", "date_to": "2026-01-31",
        "source_computed_property": {"select": "{a} + 1"}}})
