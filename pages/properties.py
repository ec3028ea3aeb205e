"""Properties: every property of the project by kind; a form per property with a live
preview of the draft on a sample of users, next to the saved definition."""

from __future__ import annotations

import zlib

import streamlit as st

from asemic_core.config import writer
from asemic_core.config.models import PROPERTY_KINDS, DataType
from asemic_core.editing import forms, listing
from asemic_core.editing import preview_shaping as shaping
from asemic_core.editing.wording import KIND_HELP, KIND_NAMES, KIND_TITLES, describe_relative_days
from asemic_core.jobs.requests import property_column_state
from studio.editor import EditorSpec, ObjectEditor, impact_note
from studio.forms import FieldIssues
from studio.job_status import materialize_offer
from studio.preview_charts import distribution_chart
from studio.session import open_project

DATA_TYPES = [t.value for t in DataType]
AGGREGATES = ["count", "count_distinct", "sum", "avg", "min", "max", "first_value", "last_value", "none"]
WINDOW_FUNCTIONS = ["sum", "avg", "count", "count_distinct", "min", "max"]
MERGE_FUNCTIONS = ["sum", "min", "max", "first_value", "last_value"]
SOURCE_NAMES = {"property": "Existing property", "event": "Inline event property", "computed": "Inline computed"}


def property_spec() -> EditorSpec:
    return EditorSpec(
        kind="property", noun="property", plural="properties", prefix="prop", collection="properties",
        query_param="property",
        form_of=forms.property_form,
        new_form=lambda: forms.new_property_form(st.session_state.get("prop_new.kind") or "event_property"),
        from_form=forms.property_from_form,
        default_file=default_file,
        users=lambda prop_id: listing.users_of(resolved, "property", prop_id),
        save=lambda root, prop_id, model, file: writer.save_property(root, prop_id, model, file=file),
        delete=writer.delete_property,
        fields=property_fields,
        preview=preview,
        badges=lambda form: [f":blue-badge[{KIND_NAMES[form['kind']]}]"],
        id_help="The id of a saved property cannot change here (other objects refer to it).",
        id_placeholder="letters, digits and _",
        file_help="New properties go to one of the property files; by default the one with the most "
                  "properties of the same kind.",
        unused_note=" · no property or KPI reads it",
    )


def default_file(form: dict) -> str:
    """The default file of a new property: the one with the most properties of its kind."""
    source = form["window"]["source_property"] if form["window"]["source"] == "property" else None
    return forms.default_property_file(files, form["kind"], form["id"].strip(), source)


# ------------------------------------------------------------------------- list


def render_list() -> None:
    rows = listing.property_rows(files, resolved, report.issues)
    own = [r for r in rows if r.kind != "base"]
    file_count = len({r.file for r in own})
    broken = sum(1 for r in own if r.errors)
    st.caption(f"{len(own)} properties in {file_count} file(s)" + (f" · :red[{broken} with errors]" if broken else ""))

    with st.container(horizontal=True, vertical_alignment="bottom"):
        query = st.text_input("Search", key="prop_list.search", placeholder="Id, label, description or definition",
                              icon=":material/search:", width=360)
        st.selectbox("Open", [r.id for r in own], index=None, key="prop_list.jump", on_change=editor.jump_to,
                     placeholder="Type an id to open it", width=260)
        new_property_popover()
    kinds = st.pills("Kind", list(PROPERTY_KINDS), selection_mode="multi", key="prop_list.kinds",
                     format_func=KIND_NAMES.get, label_visibility="collapsed")
    shown = listing.filter_rows(rows, query or "", list(kinds) if kinds else None)
    if not own:
        st.info("This project has no properties yet. Create the first one with **New property**.",
                icon=":material/info:")
    elif not shown:
        st.info("No property matches the search.", icon=":material/search_off:")
    for kind in PROPERTY_KINDS:
        group = [r for r in shown if r.kind == kind]
        if group:
            property_group(kind, group)
    builtin = [r for r in shown if r.kind == "base"]
    if builtin:
        with st.expander(f"{KIND_TITLES['base']} ({len(builtin)})", icon=":material/lock:"):
            st.caption("Added to every project; usable in selects and KPIs, not editable.")
            st.dataframe({"Id": [r.id for r in builtin], "Label": [r.label for r in builtin],
                          "Type": [r.data_type for r in builtin]}, hide_index=True, width="stretch")


def property_group(kind: str, group: list) -> None:
    st.subheader(f"{KIND_TITLES[kind]} · {len(group)}", anchor=False)
    st.session_state[f"prop_list.ids.{kind}"] = [r.id for r in group]
    table = {
        "Id": [r.id for r in group],
        "Label": [r.label for r in group],
        "Type": [r.data_type for r in group],
        "File": [r.where.removeprefix("userentity/properties/") for r in group],
        "Description": [r.description for r in group],
        "Definition": [r.definition for r in group],
        "Status": ["⚠ errors" if r.errors else "" for r in group],
    }
    if not any(table["Status"]):
        del table["Status"]
    st.dataframe(
        table, key=f"prop_list.table.{kind}", selection_mode="single-row",
        on_select=lambda: editor.open_selected(f"prop_list.table.{kind}", f"prop_list.ids.{kind}"),
        hide_index=True, width="stretch",
        column_config={
            # about 950 px in all: the table fits the page beside the sidebar, no column cut off at its edge
            "Id": st.column_config.TextColumn(width=170),
            "Label": st.column_config.TextColumn(width=150),
            "Type": st.column_config.TextColumn(width=75),
            "File": st.column_config.TextColumn(width=120, help="Under userentity/properties/ (file:line)"),
            "Description": st.column_config.TextColumn(width=200),
            "Definition": st.column_config.TextColumn(width=200),
        },
    )


def new_property_popover() -> None:
    editor.new_popover("e.g. sessions_on_day", extra=lambda: st.selectbox(
        "Kind", list(PROPERTY_KINDS), key="prop_new.kind", format_func=KIND_NAMES.get))


# ------------------------------------------------------------------------ editor


def property_fields(form: dict, fi: FieldIssues) -> None:
    kind = form["kind"]
    editor.id_field(form, fi)
    c1, c2 = st.columns([3, 2])
    with c1:
        EDITOR.selectbox("Kind", "kind", list(PROPERTY_KINDS), format_func=KIND_NAMES.get, help=KIND_HELP[kind])
    with c2:
        EDITOR.selectbox("Data type", "data_type", DATA_TYPES)
    fi.show(kind, exact=True)
    fi.show("data_type")
    if editor.inferred:
        same = editor.inferred == form["data_type"]
        st.caption(f":material/auto_awesome: The definition produces **{editor.inferred}**"
                   + (" (the type is inferred from it)." if same and not form["original_id"] else "."))
    editor.label_field(form, fi)
    editor.description_field(fi)
    with st.container(horizontal=True):
        EDITOR.toggle("Can filter", "can_filter", help="Offer it as a KPI filter.")
        EDITOR.toggle("Can group by", "can_group_by", help="Offer it as a KPI breakdown.")
    if not form["original_id"]:
        editor.file_choice(form)

    with st.container(border=True):
        st.markdown(f"**{KIND_NAMES[kind]} property**")
        match kind:
            case "event_property":
                event_fields("event", kind, fi, with_default=True)
            case "registration_property":
                registration_fields(form, fi)
            case "computed_property":
                computed_fields("computed", kind, form, fi)
            case "sliding_window_property" | "fixed_window_property" | "lifetime_property":
                window_fields(kind, form, fi)


def event_fields(base: str, prefix: str, fi: FieldIssues, with_default: bool) -> None:
    c1, c2 = st.columns(2)
    with c1:
        EDITOR.selectbox("Source event", f"{base}.source_event", listing.event_ids(resolved),
                         placeholder="Choose an event table",
                         help="entity_activity: one row per active day; entity_registrations: one row per user.")
        fi.show(f"{prefix}.source_event")
    with c2:
        EDITOR.selectbox("Aggregate function", f"{base}.aggregate_function", AGGREGATES,
                         help="none: the select is itself an aggregate (COUNT(*)) or a constant such as 1.")
        fi.show(f"{prefix}.aggregate_function")
    EDITOR.text_input("Select", f"{base}.select", placeholder="{amount_usd}",
                      help="An expression over the event's columns, written as {column}.")
    fi.show(f"{prefix}.select")
    columns = listing.event_columns(resolved, EDITOR.get(f"{base}.source_event"))
    if columns:
        EDITOR.inserter("Insert a column", f"{base}.select", columns, lambda c: f"{{{c}}}",
                        placeholder="Pick a column to add {column} to the select")
    EDITOR.text_input("Where", f"{base}.where", placeholder="optional, e.g. {platform} = 'ios'")
    fi.show(f"{prefix}.where")
    if with_default:
        EDITOR.text_input("Default value", f"{base}.default_value", placeholder="empty: NULL on days without events",
                          help="The value on days without a matching event.")
        fi.show(f"{prefix}.default_value")


def registration_fields(form: dict, fi: FieldIssues) -> None:
    EDITOR.selectbox("Source column", "registration.source_column", listing.registration_columns(resolved),
                     placeholder=f"Same as the id ({form['id'] or 'id'})",
                     help="A column of entity_registrations: the registration tables' columns tagged "
                          "registration_property.")
    fi.show("registration_property.source_column", "registration_property")


def computed_fields(base: str, prefix: str, form: dict, fi: FieldIssues) -> None:
    EDITOR.text_area("Select", f"{base}.select", height=90, placeholder="IF({days_since_last_active} = 0, 1, 0)",
                     help="An expression over other properties of the same user and day, written as {property}.")
    fi.show(f"{prefix}.select")
    EDITOR.inserter("Insert a property", f"{base}.select",
                    listing.reference_properties(resolved, form["original_id"] or form["id"]), lambda p: f"{{{p}}}",
                    placeholder="Pick a property to add {property} to the select")
    st.markdown("**Value mappings** (optional)")
    st.caption("Rows are tried in order, the first match wins; no match gives NULL. "
               "A range includes both ends; leave one empty for an open range. Quote text that looks like a number.")
    EDITOR.rows_editor(f"{base}.value_mappings", forms.MAPPING_COLUMNS, column_config={
        "match": st.column_config.SelectboxColumn("Match", options=["constant", "range"], default="constant",
                                                  required=True, width="small"),
        "constant": st.column_config.TextColumn("Constant"),
        "from": st.column_config.TextColumn("From (≥)"),
        "to": st.column_config.TextColumn("To (≤)"),
        "new_value": st.column_config.TextColumn("New value"),
    })
    fi.show(f"{prefix}.value_mappings")


def window_fields(kind: str, form: dict, fi: FieldIssues) -> None:
    if kind == "lifetime_property":
        EDITOR.selectbox("Merge function", "window.merge_function", MERGE_FUNCTIONS,
                         help="How each day's value folds into the running value.")
        fi.show(f"{kind}.merge_function")
    else:
        EDITOR.selectbox("Window function", "window.window_function", WINDOW_FUNCTIONS)
        fi.show(f"{kind}.window_function")
    if kind == "sliding_window_property":
        c1, c2 = st.columns(2)
        with c1:
            EDITOR.number_input("Relative days from", "window.relative_days_from", step=1,
                                help="0 is the day itself, -6 six days earlier.")
            fi.show(f"{kind}.relative_days_from")
        with c2:
            EDITOR.number_input("Relative days to", "window.relative_days_to", step=1)
            fi.show(f"{kind}.relative_days_to")
        low, high = form["window"]["relative_days_from"], form["window"]["relative_days_to"]
        if low is not None and high is not None:
            st.caption(f":material/date_range: Aggregates {describe_relative_days(int(low), int(high))}.")
    if kind == "fixed_window_property":
        c1, c2 = st.columns(2)
        with c1:
            EDITOR.date_input("Date from", "window.date_from", value=None)
            fi.show(f"{kind}.date_from")
        with c2:
            EDITOR.date_input("Date to", "window.date_to", value=None)
            fi.show(f"{kind}.date_to")
        st.caption("NULL before the first date; from then on, the days up to min(date to, the day).")
    EDITOR.segmented_control("Source", "window.source", list(forms.SOURCE_MODES), format_func=SOURCE_NAMES.get,
                             required=True)
    match form["window"]["source"]:
        case "property":
            broken = {i.object_id for i in report.errors if i.object_id}
            options = listing.source_property_options(resolved, form["original_id"] or form["id"], broken)
            EDITOR.selectbox("Source property", "window.source_property", options, placeholder="Choose a property",
                             help="Not itself, not a property that already reads it, not one with errors.")
            fi.show(f"{kind}.source_property")
        case "event":
            event_fields("inline_event", f"{kind}.source_event_property", fi, with_default=True)
        case "computed":
            computed_fields("inline_computed", f"{kind}.source_computed_property", form, fi)
    fi.show(f"{kind}.source_event_property", f"{kind}.source_computed_property", f"{kind}.source_property")


# ----------------------------------------------------------------------- preview


def preview(result, object_id: str, model_json: str, form: dict) -> None:
    """A property draft's values on the sample: their distribution, then a few users day by day;
    for a saved property the model does not hold yet, the offer to materialize it."""
    status = editor.project.status()
    impact_note(result, shaping.property_impact(result, property_column_state(status, resolved, object_id)))
    if not result.is_new:
        materialize_offer(editor.project, object_id, status, resolved)
    values = result.values
    if values is None or values.height == 0:
        st.caption("The sample has no user-days in this window.")
        return
    summary = shaping.value_summary(values)
    if summary:
        st.caption(f":material/functions: {summary}")
    empty = shaping.empty_share(values)
    hide = empty > 0 and st.toggle(f"Hide NULL / 0 values ({empty:.0%} of user-days)", value=empty > 0.8,
                                   key=f"prop_preview.hide.{object_id}")
    dist = shaping.distribution(values, not result.is_new, skip_empty=hide)
    if dist.height:
        st.altair_chart(distribution_chart(dist, object_id), width="stretch")
    else:
        st.caption("Every value is NULL or 0 in this sample.")
    users = shaping.example_users(values, not result.is_new)
    st.markdown("**Day by day for a few users**" + ("" if result.is_new else " (draft vs saved; changed users first)"))
    user = st.segmented_control("User", users, default=users[0] if users else None, required=True,
                                key=f"prop_preview.user.{zlib.crc32(model_json.encode())}",
                                label_visibility="collapsed")
    if user:
        st.dataframe(shaping.user_days(values, user, not result.is_new), hide_index=True, width="stretch", height=250,
                     column_config={"date": st.column_config.DateColumn("date", format="YYYY-MM-DD", width="small"),
                                    "changed": st.column_config.CheckboxColumn("changed", width="small")})


# --------------------------------------------------------------------------- page

editor = ObjectEditor(property_spec(), open_project())
EDITOR, files, resolved, report = editor.draft, editor.files, editor.resolved, editor.report
editor.run("Properties", render_list)
