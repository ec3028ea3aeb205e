"""How the model holds a saved property: a new or stale column of its own, or of the inline
source it holds, is the property's; nothing materialized yet says nothing."""

from __future__ import annotations

from types import SimpleNamespace as NS

from asemic_core.jobs.requests import property_column_state, stale_properties

PROPERTIES = {
    "revenue_lifetime": NS(id="revenue_lifetime", hidden=False, parent=None),
    "revenue_lifetime__inner": NS(id="revenue_lifetime__inner", hidden=True, parent="revenue_lifetime"),
    "dau_active": NS(id="dau_active", hidden=False, parent=None),
    "wau_active": NS(id="wau_active", hidden=False, parent=None),
}
PROJECT = NS(get_property=PROPERTIES.get)


def _status(watermark="2026-02-14", **states):
    columns = [NS(name=name, state=state) for name, state in states.items()]
    return NS(watermark=watermark, columns=columns, stale=[c.name for c in columns if c.state in ("new", "stale")])


def test_a_new_inline_source_column_makes_its_property_new() -> None:
    status = _status(revenue_lifetime="stale", revenue_lifetime__inner="new", dau_active="fresh", wau_active="stale")
    assert property_column_state(status, PROJECT, "revenue_lifetime") == "new"
    assert property_column_state(status, PROJECT, "wau_active") == "stale"
    assert property_column_state(status, PROJECT, "dau_active") is None
    assert stale_properties(status, PROJECT) == ["revenue_lifetime", "wau_active"]


def test_nothing_is_offered_before_the_first_refresh() -> None:
    status = _status(watermark=None, dau_active="new")
    assert property_column_state(status, PROJECT, "dau_active") is None
