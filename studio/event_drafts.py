"""Cached checks and previews of event-table drafts for the Events page's editor
(keyed on plain values: the project root, its config version, the draft's JSON)."""

from __future__ import annotations

import streamlit as st

from asemic_core.config.model_data import to_yaml_data
from asemic_core.config.models import EventTable
from asemic_core.issues import Issue
from asemic_core.project import Project
from studio.session import validation_report


@st.cache_data(show_spinner="Checking the event table against the project...", max_entries=32)
def event_draft_issues(root: str, version: str, event_id: str, model_json: str, new: bool) -> list[Issue]:
    """The draft's own issues in the project (dry run included) and the errors it causes
    elsewhere that the saved project does not have."""
    data = to_yaml_data(EventTable.model_validate_json(model_json))
    check = Project(root).check_event_draft(event_id, data, new=new,
                                            baseline=validation_report(root, version).issues)
    own = [i for i in check.issues if i.object_id == event_id]
    return own + [i for i in check.introduced if i.object_id != event_id]


@st.cache_data(show_spinner="Reading sample rows...", max_entries=32)
def event_draft_sample(root: str, version: str, event_id: str, model_json: str):
    """The rows the draft reads (``EventSample``): its columns, its where applied."""
    from asemic_core.query.event_preview import event_draft_sample as sample

    project = Project(root)
    data = to_yaml_data(EventTable.model_validate_json(model_json))
    return sample(project.root, project.warehouse_path(), event_id, data)
