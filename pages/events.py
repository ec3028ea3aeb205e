"""Events: every event table of the project; the shared editor per table (its columns,
tags and where) with a preview of the rows it reads; new tables from the warehouse."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from asemic_core.config import writer
from asemic_core.config.models import COLUMN_TAGS, TABLE_TAGS, DataType, EventTable
from asemic_core.editing import listing
from asemic_core.editing.event_form import EventForm, event_data, event_draft, event_form_of, form_for_event, \
    form_for_suggestion
from asemic_core.editing.event_suggestion import suggest_event
from asemic_core.editing.form_issues import model_issues
from asemic_core.warehouse import Column
from studio.editor import EditorSpec, ObjectEditor
from studio.event_drafts import event_draft_issues, event_draft_sample
from studio.forms import FieldIssues
from studio.session import open_project
from studio.views import project_files, warehouse_key, warehouse_tables

DATA_TYPES = [t.value for t in DataType]
COLUMN_WIDTHS = [0.5, 2.4, 1.6, 3.6, 2.1]


def event_spec() -> EditorSpec:
    return EditorSpec(
        kind="event", noun="event table", plural="event tables", prefix="ev", collection="events",
        query_param="event",
        form_of=lambda event_id, model, file: event_draft(event_id, form_for_event(model, tables.get(model.table_name)),
                                                          event_id, file),
        new_form=new_form,
        from_form=from_form,
        default_file=lambda form: f"userentity/events/{form['id'].strip()}.yml",
        users=lambda event_id: listing.users_of(resolved, "event", event_id),
        save=lambda root, event_id, model, file: writer.save_event(root, event_id, model),
        delete=None,
        fields=event_fields,
        preview=lambda *args: None,
        check=lambda check_id, form, model_json: event_draft_issues(editor.root, editor.version, check_id,
                                                                    model_json, form["original_id"] is None),
        preview_body=sample_preview,
        stacked=True,
        badges=lambda form: [f":blue-badge[{tag}]" for tag in form["tags"]],
        id_help="Also the file name: userentity/events/<id>.yml. The id of a saved table cannot change here.",
        id_placeholder="letters, digits and _",
        unused_note=" · no property reads it",
    )


def new_form() -> dict:
    """A new table's draft: the warehouse table picked in the "New" popover, its columns'
    roles and types suggested from their names and types."""
    table = st.session_state.get("ev_new.table")
    if not table or table not in tables:
        return event_draft("", EventForm("", []), None)
    columns = {name: Column(name, warehouse_type) for name, warehouse_type in tables[table].items()}
    suggestion = suggest_event(table, columns, files.events)
    return event_draft(suggestion.event_id, form_for_suggestion(suggestion), None)


def from_form(form: dict) -> tuple[EventTable | None, list]:
    """The table a draft describes; fields the form does not show stay as written."""
    saved = files.events.get(form["original_id"]) if form["original_id"] else None
    data = event_data(event_form_of(form), saved.model if saved else None)
    try:
        return EventTable.model_validate(data), []
    except ValidationError as err:
        return None, model_issues(err, form["id"].strip())


# ------------------------------------------------------------------------- list


def render_list() -> None:
    st.caption("Event tables are the raw tables of the warehouse asemic reads. Each one declares the columns it "
               "uses, which column holds the user id and the event time, and tags saying whether it defines "
               "registration or activity.")
    ids = sorted(files.events)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Open", ids, index=None, key="ev_list.jump", on_change=editor.jump_to,
                     placeholder="Type an id to open it", width=260)
        new_event_popover()
    if not ids:
        st.info("No event table yet: add one from the warehouse with **New event table**.")
        return
    st.session_state["ev_list.ids"] = ids
    st.dataframe(
        {"Id": ids, "Label": [files.events[i].model.label or "" for i in ids],
         "Table": [files.events[i].model.table_name for i in ids],
         "Tags": [", ".join(files.events[i].model.tags) for i in ids],
         "Columns": [len(files.events[i].model.columns) for i in ids],
         "File": [files.events[i].file for i in ids]},
        key="ev_list.table", on_select=lambda: editor.open_selected("ev_list.table", "ev_list.ids"),
        selection_mode="single-row", hide_index=True, width="stretch",
    )
    st.caption("Click a row to open the event table.")


def unused_tables() -> list[str]:
    used = {located.model.table_name for located in files.events.values()}
    return sorted(t for t in tables if t not in used)


def new_event_popover() -> None:
    if warehouse is None and project_files(project).deployment is not None and \
            project_files(project).deployment.model.warehouse.type == "spark_catalog":
        st.info("The event tables are tables of the Spark catalog, which the studio does not list: "
                "add an event table's file under `userentity/events/` (its `table_name` is `db.table`).")
        return
    if warehouse is None:
        st.warning("The warehouse is not reachable: check `warehouse.path` in asemic.yml.")
        return
    unused = unused_tables()
    if not unused:
        st.info("Every table of the warehouse is already used by an event table.", icon=":material/done_all:")
        return
    editor.new_popover("empty: suggested from the table name", extra=lambda: st.selectbox(
        "Warehouse table not used yet", unused, key="ev_new.table"))


# ------------------------------------------------------------------------ editor


def event_fields(form: dict, fi: FieldIssues) -> None:
    editor.id_field(form, fi)
    left, right = st.columns(2)
    with left:
        st.text_input("Warehouse table", value=form["table_name"], disabled=True, key=f"ev_editor_table_ro.{form['table_name']}",
                      help="schema.table in the warehouse")
        fi.show("table_name")
        editor.label_field(form, fi)
    with right:
        EDITOR.multiselect("Table tags", "tags", list(TABLE_TAGS), placeholder="no tags",
                           help="registration_event: defines registration; activity_event: defines activity; "
                                "payment_transaction_event: a hint for generated properties.")
        fi.show("tags")
        EDITOR.text_input("Where", "where", placeholder="e.g. {platform} != 'test'",
                          help="A predicate applied to every read of the table; {column} placeholders.")
        fi.show("where")
    editor.description_field(fi)
    if not form["original_id"]:
        st.caption(f"Saved to `userentity/events/{form['id'].strip() or '<id>'}.yml`.")
    column_fields(form, fi)


def column_fields(form: dict, fi: FieldIssues) -> None:
    st.markdown("**Columns**")
    st.caption("Tick the columns to declare. Exactly one column must be tagged entity_id_column and one "
               "event_timestamp_column; date_column is optional.")
    fi.show("columns", exact=True)
    head = st.columns(COLUMN_WIDTHS, vertical_alignment="bottom")
    for cell, title in zip(head, ("Use", "Column", "Data type", "Tags", "Label")):
        cell.caption(title)
    extra_tags = sorted({t for c in form["columns"].values() for t in c["tags"]} - set(COLUMN_TAGS))
    for key in sorted(form["columns"], key=int):
        column = form["columns"][key]
        row = st.columns(COLUMN_WIDTHS, vertical_alignment="center")
        with row[0]:
            EDITOR.checkbox("Use", f"columns.{key}.include", label_visibility="collapsed")
        warehouse_type = column["warehouse_type"] or ":red[not in the warehouse]"
        row[1].markdown(f"`{column['name']}`  \n:gray[{warehouse_type}]")
        with row[2]:
            EDITOR.selectbox("Data type", f"columns.{key}.data_type", DATA_TYPES, label_visibility="collapsed",
                             placeholder="unsupported type")
        with row[3]:
            EDITOR.multiselect("Tags", f"columns.{key}.tags", list(COLUMN_TAGS) + extra_tags,
                               label_visibility="collapsed", placeholder="no tags")
        with row[4]:
            EDITOR.text_input("Label", f"columns.{key}.label", label_visibility="collapsed", placeholder="label")
        fi.show(f"columns.{column['name']}")


# ----------------------------------------------------------------------- preview


def sample_preview(object_id: str, model_json: str, form: dict) -> None:
    """The first rows the draft reads: its declared columns, its where applied."""
    sample = event_draft_sample(editor.root, editor.version, object_id, model_json)
    if sample.problem:
        st.warning(f"No sample rows: {sample.problem}.", icon=":material/table_rows:")
        return
    if form["where"].strip():
        share = sample.matching / sample.total if sample.total else 0
        st.info(f"**{sample.matching:,}** of {sample.total:,} rows of `{form['table_name']}` pass the where "
                f"({share:.0%}).", icon=":material/filter_alt:")
    else:
        st.info(f"Every one of the {sample.total:,} rows of `{form['table_name']}` is read (no where).",
                icon=":material/table_rows:")
    st.markdown(f"**Sample rows** (first {sample.rows.height}, declared columns)")
    dates = {name: st.column_config.DateColumn(format="YYYY-MM-DD") for name, dtype in sample.rows.schema.items()
             if str(dtype) == "Date"}
    st.dataframe(sample.rows, hide_index=True, width="stretch", column_config=dates)


# --------------------------------------------------------------------------- page

project = open_project()
editor = ObjectEditor(event_spec(), project)
EDITOR, files, resolved, report = editor.draft, editor.files, editor.resolved, editor.report
warehouse = warehouse_key(project, project_files(project))
tables = warehouse_tables(*warehouse) if warehouse else {}
editor.run("Events", render_list)
