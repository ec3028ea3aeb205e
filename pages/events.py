"""Events: the event tables, a form to edit one, and new tables from the warehouse."""

from __future__ import annotations

import hashlib

import streamlit as st

from studio.session import config_version, field_errors, open_project, render_field_errors, \
    show_error, show_issues, validation_report
from studio.views import project_files, warehouse_key, warehouse_sample, warehouse_tables
from asemic_core.editing.event_form import ColumnForm, EventForm, event_data, form_for_event, form_for_suggestion
from asemic_core.config.models import COLUMN_TAGS, TABLE_TAGS, DataType, EventTable
from asemic_core.editing.event_suggestion import suggest_event
from asemic_core.config.writer import save_event
from asemic_core.errors import AsemicError
from asemic_core.issues import Issue
from asemic_core.warehouse import Column

DATA_TYPES = [t.value for t in DataType]
TOP_FIELDS = ("id", "table_name", "label", "description", "tags", "where")

project = open_project()
files = project_files(project)
report = validation_report(str(project.root), config_version(project))
warehouse = warehouse_key(project, files)
tables = warehouse_tables(*warehouse) if warehouse else {}


# ----------------------------------------------------------------------------- state


def reset_if_changed(prefix: str, fingerprint: str) -> None:
    """Forget the form's widget values when the file changed under it (saved, or edited by hand)."""
    marker = f"{prefix}:fingerprint"
    if st.session_state.get(marker) != fingerprint:
        for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix + ":")]:
            del st.session_state[key]
        st.session_state[marker] = fingerprint


def read_form(prefix: str, form: EventForm) -> EventForm:
    """The form as the widgets hold it now."""
    state = st.session_state
    return EventForm(
        table_name=state.get(f"{prefix}:table_name", form.table_name),
        tags=list(state.get(f"{prefix}:tags", form.tags)),
        label=state.get(f"{prefix}:label", form.label),
        description=state.get(f"{prefix}:description", form.description),
        where=state.get(f"{prefix}:where", form.where),
        columns=[
            ColumnForm(c.name, state.get(f"{prefix}:col:{c.name}:on", c.include),
                       state.get(f"{prefix}:col:{c.name}:type", c.data_type),
                       list(state.get(f"{prefix}:col:{c.name}:tags", c.tags)),
                       state.get(f"{prefix}:col:{c.name}:label", c.label), c.warehouse_type)
            for c in form.columns
        ],
    )


def check_and_save(prefix: str, event_id: str | None, form: EventForm, new: bool) -> None:
    """Button callback: validate the draft; write it only when it introduces no error."""
    event_id = (st.session_state.get(f"{prefix}:id", "") if new else event_id or "").strip()
    current = project.files()
    base = None if new or event_id not in current.events else current.events[event_id].model
    data = event_data(read_form(prefix, form), base)
    check = project.check_event_draft(event_id, data, new=new, baseline=report.issues)
    st.session_state[f"{prefix}:check"] = (event_id, check)
    if not check.ok:
        return
    try:
        rel = save_event(project.root, event_id, EventTable.model_validate(data))
    except AsemicError as err:
        st.session_state[f"{prefix}:failure"] = err
        return
    remaining = [i for i in check.issues if i.is_error]
    st.session_state["events_saved"] = (event_id, rel, len(remaining))
    if not new:
        st.session_state["events_selected"] = event_id


# ---------------------------------------------------------------------------- widgets


def column_tag_options(form: EventForm) -> list[str]:
    extra = sorted({t for c in form.columns for t in c.tags} - set(COLUMN_TAGS))
    return list(COLUMN_TAGS) + extra


def render_form(prefix: str, form: EventForm, errors: dict[str, list[str]], *, new: bool,
                suggested_id: str | None = None) -> None:
    if new:
        st.text_input("Event id", value=suggested_id or "", key=f"{prefix}:id",
                      help="Also the file name: userentity/events/<id>.yml. Letters, digits and _.")
        render_field_errors(errors, "id")
    left, right = st.columns(2)
    with left:
        st.text_input("Warehouse table", value=form.table_name, key=f"{prefix}:table_name", disabled=new,
                      help="schema.table in the warehouse")
        render_field_errors(errors, "table_name")
        st.text_input("Label", value=form.label, key=f"{prefix}:label")
        render_field_errors(errors, "label")
    with right:
        table_tags = list(TABLE_TAGS) + sorted(set(form.tags) - set(TABLE_TAGS))
        st.multiselect("Table tags", table_tags, default=form.tags, key=f"{prefix}:tags", placeholder="no tags",
                       help="registration_event: defines registration; activity_event: defines activity; "
                            "payment_transaction_event: a hint for generated properties.")
        render_field_errors(errors, "tags")
        st.text_input("Where", value=form.where, key=f"{prefix}:where", placeholder="e.g. {platform} != 'test'",
                      help="A predicate applied to every read of the table; {column} placeholders.")
        render_field_errors(errors, "where")
    st.text_area("Description", value=form.description, key=f"{prefix}:description", height=68)
    render_field_errors(errors, "description")

    st.markdown("**Columns**")
    st.caption("Tick the columns to declare. Exactly one column must be tagged entity_id_column and one "
               "event_timestamp_column; date_column is optional.")
    render_field_errors({k: v for k, v in errors.items() if k == "columns"}, "columns")
    widths = [0.7, 2.2, 1.6, 3.4, 2.1]
    head = st.columns(widths, vertical_alignment="bottom")
    for cell, title in zip(head, ("Use", "Column", "Data type", "Tags", "Label")):
        cell.caption(title)
    tag_options = column_tag_options(form)
    for column in form.columns:
        row = st.columns(widths, vertical_alignment="center")
        row[0].checkbox("Use", value=column.include, key=f"{prefix}:col:{column.name}:on",
                        label_visibility="collapsed")
        warehouse_type = column.warehouse_type or ":red[not in the warehouse]"
        row[1].markdown(f"`{column.name}`  \n:gray[{warehouse_type}]")
        row[2].selectbox("Data type", DATA_TYPES,
                         index=DATA_TYPES.index(column.data_type) if column.data_type in DATA_TYPES else None,
                         key=f"{prefix}:col:{column.name}:type", label_visibility="collapsed",
                         placeholder="unsupported type")
        row[3].multiselect("Tags", tag_options, default=column.tags, key=f"{prefix}:col:{column.name}:tags",
                           label_visibility="collapsed", placeholder="no tags")
        row[4].text_input("Label", value=column.label, key=f"{prefix}:col:{column.name}:label",
                          label_visibility="collapsed", placeholder="label")
        render_field_errors(errors, f"columns.{column.name}")


def shown_elsewhere(issue: Issue, event_id: str, form: EventForm) -> bool:
    if issue.object_id != event_id or not issue.field:
        return False
    top = issue.field.split(".")[0]
    if top == "columns":
        parts = issue.field.split(".")
        return len(parts) == 1 or parts[1] in {c.name for c in form.columns}
    return top in TOP_FIELDS


def render_outcome(prefix: str, form: EventForm) -> None:
    """What the last click of the save button gave (under the button)."""
    if (failure := st.session_state.pop(f"{prefix}:failure", None)) is not None:
        show_error(failure)
    found = st.session_state.get(f"{prefix}:check")
    if found is None:
        return
    event_id, check = found
    if check.ok:
        return
    st.error(f"Not saved: the change would add {len(check.introduced)} error(s) to the project. "
             "Nothing was written.", icon=":material/error:")
    others = [i for i in check.introduced if not shown_elsewhere(i, event_id, form)]
    if others:
        st.caption("Errors elsewhere in the project (they follow from this change):")
        show_issues(others)


def render_sample(table: str) -> None:
    if warehouse is None:
        st.caption("The warehouse is not reachable.")
        return
    sample, problem = warehouse_sample(*warehouse, table)
    if problem:
        st.warning(problem)
    else:
        st.dataframe(sample, hide_index=True, width="stretch")


def current_errors(prefix: str, event_id: str, issues: list[Issue]) -> dict[str, list[str]]:
    found = st.session_state.get(f"{prefix}:check")
    if found is not None and found[0] == event_id:
        issues = found[1].issues
    return field_errors(issues, event_id)


# ------------------------------------------------------------------------------ page

st.title("Events")
st.caption("Event tables are the raw tables of the warehouse asemic reads. Each one declares the columns it uses, "
           "which column holds the user id and the event time, and tags saying whether it defines "
           "registration or activity.")

if (saved := st.session_state.pop("events_saved", None)) is not None:
    event_id, rel, remaining = saved
    st.success(f"Saved event table `{event_id}` to `{rel}`.", icon=":material/check_circle:")
    if remaining:
        st.warning(f"The project still has {remaining} error(s) from before; see the Overview.")

list_tab, add_tab = st.tabs(["Event tables", "Add from warehouse"])

with list_tab:
    if not files.events:
        st.info("No event table yet: add one from the warehouse.")
    else:
        st.dataframe(
            [{"id": eid, "label": loc.model.label or "", "table": loc.model.table_name,
              "tags": ", ".join(loc.model.tags), "columns": len(loc.model.columns), "file": loc.file}
             for eid, loc in sorted(files.events.items())],
            hide_index=True, width="stretch",
        )
        ids = sorted(files.events)
        if st.session_state.get("events_selected") not in ids:
            st.session_state["events_selected"] = ids[0]
        event_id = st.selectbox("Edit event table", ids, key="events_selected")
        located = files.events[event_id]
        prefix = f"ev:edit:{event_id}"
        reset_if_changed(prefix, hashlib.sha256(located.doc.text.encode()).hexdigest())
        form = form_for_event(located.model, tables.get(located.model.table_name))
        st.caption(f"Defined in `{located.file}`. Saving rewrites only the lines of this table that change.")
        render_form(prefix, form, current_errors(prefix, event_id, report.issues), new=False)
        st.button("Validate and save", key=f"{prefix}:save", type="primary", icon=":material/save:",
                  on_click=check_and_save, args=(prefix, event_id, form, False))
        render_outcome(prefix, form)
        with st.expander(f"Sample rows of {located.model.table_name} (first 20)"):
            render_sample(located.model.table_name)

with add_tab:
    used = {loc.model.table_name for loc in files.events.values()}
    unused = sorted(t for t in tables if t not in used)
    if warehouse is None:
        st.warning("The warehouse is not reachable: check `warehouse.path` in asemic.yml.")
    elif not unused:
        st.info("Every table of the warehouse is already used by an event table.", icon=":material/done_all:")
    else:
        if st.session_state.get("events_add_table") not in unused:
            st.session_state["events_add_table"] = unused[0]
        table = st.selectbox("Warehouse table not used yet", unused, key="events_add_table")
        columns = {name: Column(name, wtype) for name, wtype in tables[table].items()}
        suggestion = suggest_event(table, columns, files.events)
        prefix = f"ev:add:{table}"
        reset_if_changed(prefix, f"{table}:{warehouse[1]}")
        form = form_for_suggestion(suggestion)
        st.caption("Roles and tags below are suggestions from the column names and types: adjust them, "
                   "then validate and save.")
        draft_id = st.session_state.get(f"{prefix}:id", suggestion.event_id).strip()
        render_form(prefix, form, current_errors(prefix, draft_id, []), new=True,
                    suggested_id=suggestion.event_id)
        st.button("Validate and save", key=f"{prefix}:save", type="primary", icon=":material/add_circle:",
                  on_click=check_and_save, args=(prefix, None, form, True))
        render_outcome(prefix, form)
        st.markdown(f"**Sample rows of {table}** (first 20)")
        render_sample(table)
