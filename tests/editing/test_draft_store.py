"""Unsaved drafts on disk: what is kept comes back as it was; discarding removes it."""

from __future__ import annotations

import datetime as dt

from asemic_core.editing.draft_store import DRAFTS_DIR, discard_draft, load_draft, save_draft
from asemic_core.editing.property_form import new_property_form


def test_a_draft_comes_back_as_it_was_kept(tmp_path) -> None:
    form = new_property_form("fixed_window_property")
    form.update(id="spend_in_january", label="Spend in January", touched=["label"])
    form["window"].update(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 31))
    save_draft(tmp_path, "prop", form)
    assert (tmp_path / DRAFTS_DIR / "prop.json").is_file()
    assert load_draft(tmp_path, "prop") == form
    assert load_draft(tmp_path, "kpi") is None
    discard_draft(tmp_path, "prop")
    assert load_draft(tmp_path, "prop") is None
    discard_draft(tmp_path, "prop")  # discarding twice is fine


def test_an_unreadable_draft_counts_as_none(tmp_path) -> None:
    (tmp_path / DRAFTS_DIR).mkdir(parents=True)
    (tmp_path / DRAFTS_DIR / "prop.json").write_text("{not json", encoding="utf-8")
    assert load_draft(tmp_path, "prop") is None

