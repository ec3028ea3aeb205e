"""Properties: every property of the project by kind; a form per property with a live
preview of the draft on a sample of users, next to the saved definition."""

from __future__ import annotations

import zlib

import streamlit as st

from studio.forms import (
    DraftForm,
    FieldIssues,
    action_bar,
    draft_issues,
    draft_preview,
    editor_title,
    project_state,
    queue_toast,
    show_toasts,
    used_by_text,
)
from studio.session import config_version, open_project, show_error, show_issues, validation_report
from asemic_core.config import writer
from asemic_core.config.models import PROPERTY_KINDS, DataType
from asemic_core.editing import catalog, forms
from asemic_core.editing import preview as shaping
from studio.preview_charts import distribution_chart
from asemic_core.editing.wording import KIND_HELP, KIND_NAMES, KIND_TITLES, describe_relative_days
from asemic_core.errors import AsemicError

EDITOR = DraftForm("prop_editor")
CONFIRM_DELETE = "prop_editor#confirm_delete"  # keys of studio.forms.action_bar
SAVE_PROBLEM = "prop_editor#save_problem"
DATA_TYPES = [t.value for t in DataType]
AGGREGATES = ["count", "count_distinct", "sum", "avg", "min", "max", "first_value", "last_value", "none"]
WINDOW_FUNCTIONS = ["sum", "avg", "count", "count_distinct", "min", "max"]
MERGE_FUNCTIONS = ["sum", "min", "max", "first_value", "last_value"]
SOURCE_NAMES = {"property": "Existing property", "event": "Inline event property", "computed": "Inline computed"}

project = open_project()
ROOT, VERSION = str(project.root), config_version(project)
files, resolved = project_state(ROOT, VERSION)
report = validation_report(ROOT, VERSION)


# --------------------------------------------------------------------- callbacks


def _forget_list_selection() -> None:
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("prop_list.table.")]:
        del st.session_state[key]


def open_property(prop_id: str) -> None:
    current = project.files()
    located = current.properties.get(prop_id)
    if located is None:
        return
    EDITOR.open(forms.property_form(prop_id, located.model, located.file))
    st.session_state.pop(CONFIRM_DELETE, None)
    st.session_state.pop(SAVE_PROBLEM, None)
    st.query_params["property"] = prop_id
    _forget_list_selection()


def open_selected(kind: str) -> None:
    selection = st.session_state.get(f"prop_list.table.{kind}")
    rows = selection.selection.rows if selection is not None else []
    ids = st.session_state.get(f"prop_list.ids.{kind}", [])
    if rows and rows[0] < len(ids):
        open_property(ids[rows[0]])


def jump_to() -> None:
    choice = st.session_state.get("prop_list.jump")
    st.session_state["prop_list.jump"] = None
    if choice:
        open_property(choice)


def create_property() -> None:
    form = forms.new_property_form(st.session_state.get("prop_new.kind") or "event_property")
    form["id"] = (st.session_state.get("prop_new.id") or "").strip()
    EDITOR.open(form)
    st.session_state.pop(CONFIRM_DELETE, None)
    st.session_state.pop(SAVE_PROBLEM, None)
    st.query_params.pop("property", None)
    st.session_state["prop_new.id"] = ""


def close_editor() -> None:
    EDITOR.close()
    st.session_state.pop(CONFIRM_DELETE, None)
    st.query_params.pop("property", None)


def revert() -> None:
    open_property(EDITOR.form["original_id"])


def save() -> None:
    form = EDITOR.form
    object_id = form["id"].strip()
    current = project.files()
    model, issues = forms.property_from_form(form)
    issues += forms.id_issues("property", form, set(current.properties))
    if model is not None and not issues:
        issues = [i for i in draft_issues(ROOT, config_version(project), "property", object_id,
                                          forms.model_json(model), _target_file(form)) if i.is_error]
    if model is None or issues:
        st.session_state[SAVE_PROBLEM] = "Nothing was saved: fix the errors shown next to the fields first."
        return
    try:
        written = writer.save_property(ROOT, object_id, model, file=None if form["original_id"] else _target_file(form))
    except AsemicError as err:
        st.session_state[SAVE_PROBLEM] = f"Nothing was saved: {err.message}"
        return
    queue_toast(f"Saved **{object_id}** to `{written}`")
    EDITOR.open(forms.property_form(object_id, model, written))
    st.session_state.pop(SAVE_PROBLEM, None)
    st.query_params["property"] = object_id


def delete() -> None:
    prop_id = EDITOR.form["original_id"]
    try:
        written = writer.delete_property(ROOT, prop_id)
    except AsemicError as err:
        st.session_state[SAVE_PROBLEM] = f"Nothing was deleted: {err.message}"
        return
    queue_toast(f"Deleted **{prop_id}** from `{written}`", icon=":material/delete:")
    close_editor()


def _target_file(form: dict) -> str | None:
    """Where the draft is (or will be) written: its file, else the file picked, else the
    default for its kind."""
    if form["original_id"]:
        saved = files.properties.get(form["original_id"])
        return saved.file if saved else None
    source = form["window"]["source_property"] if form["window"]["source"] == "property" else None
    return form.get("file") or forms.default_property_file(files, form["kind"], form["id"].strip(), source)


# ------------------------------------------------------------------------- list


def render_list() -> None:
    rows = catalog.property_rows(files, resolved, report.issues)
    own = [r for r in rows if r.kind != "base"]
    file_count = len({r.file for r in own})
    broken = sum(1 for r in own if r.errors)
    st.caption(f"{len(own)} properties in {file_count} file(s)" + (f" · :red[{broken} with errors]" if broken else ""))

    with st.container(horizontal=True, vertical_alignment="bottom"):
        query = st.text_input("Search", key="prop_list.search", placeholder="Id, label, description or definition",
                              icon=":material/search:", width=360)
        st.selectbox("Open", [r.id for r in own], index=None, key="prop_list.jump", on_change=jump_to,
                     placeholder="Type an id to open it", width=260)
        new_property_popover()
    kinds = st.pills("Kind", list(PROPERTY_KINDS), selection_mode="multi", key="prop_list.kinds",
                     format_func=KIND_NAMES.get, label_visibility="collapsed")
    shown = catalog.filter_rows(rows, query or "", list(kinds) if kinds else None)
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
        table, key=f"prop_list.table.{kind}", on_select=lambda: open_selected(kind), selection_mode="single-row",
        hide_index=True, width="stretch",
        column_config={
            "Id": st.column_config.TextColumn(width=180),
            "Label": st.column_config.TextColumn(width=160),
            "Type": st.column_config.TextColumn(width=80),
            "File": st.column_config.TextColumn(width=120, help="Under userentity/properties/ (file:line)"),
            "Description": st.column_config.TextColumn(width=260),
            "Definition": st.column_config.TextColumn(width=260),
        },
    )


def new_property_popover() -> None:
    with st.popover("New property", icon=":material/add:", type="primary"):
        with st.form("prop_new", border=False, enter_to_submit=True):
            st.text_input("Id", key="prop_new.id", placeholder="e.g. sessions_on_day")
            st.selectbox("Kind", list(PROPERTY_KINDS), key="prop_new.kind", format_func=KIND_NAMES.get)
            st.form_submit_button("Create", type="primary", on_click=create_property)


# ------------------------------------------------------------------------ editor


def render_editor(form: dict) -> None:
    object_id = form["id"].strip()
    saved = files.properties.get(form["original_id"]) if form["original_id"] else None
    model, issues = forms.property_from_form(form)
    issues += forms.id_issues("property", form, set(files.properties))
    model_json = forms.model_json(model) if model is not None and not issues else None
    if model_json is not None:
        issues += draft_issues(ROOT, VERSION, "property", object_id, model_json, _target_file(form))
    issues, pending = forms.untouched_required(issues, form)
    field_issues = FieldIssues(issues, object_id)
    elsewhere = [i for i in issues if i.object_id not in (object_id, None) and i.is_error]
    valid = model_json is not None and not field_issues.has_errors() and not elsewhere
    dirty = saved is None or model != saved.model

    editor_header(form, saved, dirty, field_issues.has_errors() or bool(elsewhere))
    left, right = st.columns([11, 9], gap="large")
    with left:
        general = st.container()
        property_fields(form, field_issues)
        field_issues.show_unclaimed(general)
        if elsewhere:
            st.error("This draft breaks other objects:", icon=":material/link_off:")
            show_issues(elsewhere)
        action_bar(EDITOR, "property", saved_id=saved.id if saved else None, saved_file=saved.file if saved else None,
                   users=catalog.users_of(resolved, "property", saved.id) if saved else [], valid=valid, dirty=dirty,
                   to_fill=FieldIssues.pending_text(pending), on_save=save, on_revert=revert, on_delete=delete)
    with right:
        preview_panel(object_id, model_json if valid else None, _target_file(form), saved is None,
                      why_no_preview(field_issues, elsewhere, pending))


def why_no_preview(field_issues: FieldIssues, elsewhere: list, pending: list) -> str:
    if field_issues.has_errors() or elsewhere or not pending:
        return "Fix the errors in the form to see a preview."
    return f"Fill in {FieldIssues.pending_text(pending)} to see a preview."


def editor_header(form: dict, saved, dirty: bool, has_errors: bool) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("All properties", icon=":material/arrow_back:", type="tertiary", on_click=close_editor,
                  key="prop_editor_back")
        st.space("stretch")
        st.selectbox("Open another property", list(files.properties), index=None, key="prop_list.jump",
                     on_change=jump_to, placeholder="Open another property…", label_visibility="collapsed",
                     width=280)
    title = form["label"].strip() or form["id"].strip() or "New property"
    badges = [f":blue-badge[{KIND_NAMES[form['kind']]}]"]
    if saved is None:
        badges.append(":violet-badge[New]")
    elif dirty:
        badges.append(":orange-badge[:material/edit: Unsaved changes]")
    if has_errors:
        badges.append(":red-badge[:material/error: Errors]")
    editor_title(title, badges)
    if saved is not None:
        users = catalog.users_of(resolved, "property", saved.id)
        reads = f" · used by {used_by_text(users)}" if users else " · no property or KPI reads it"
        st.caption(f"`{saved.id}` · `{saved.file}:{saved.line}`{reads}")
    elif form["original_id"]:
        st.warning(f"`{form['original_id']}` is no longer in the files; saving writes it again.")


def property_fields(form: dict, fi: FieldIssues) -> None:
    kind = form["kind"]
    if form["original_id"]:
        st.text_input("Id", value=form["id"], disabled=True, key="prop_editor_id_ro",
                      help="The id of a saved property cannot change here (other objects refer to it).")
    else:
        EDITOR.text_input("Id", "id", placeholder="letters, digits and _")
    fi.show("id")
    c1, c2 = st.columns([3, 2])
    with c1:
        EDITOR.selectbox("Kind", "kind", list(PROPERTY_KINDS), format_func=KIND_NAMES.get, help=KIND_HELP[kind])
    with c2:
        EDITOR.selectbox("Data type", "data_type", DATA_TYPES)
    fi.show(kind, exact=True)
    fi.show("data_type")
    EDITOR.text_input("Label", "label", placeholder=forms.default_label(form["id"]) if form["id"] else "")
    fi.show("label")
    EDITOR.text_input("Description", "description")
    fi.show("description")
    with st.container(horizontal=True):
        EDITOR.toggle("Can filter", "can_filter", help="Offer it as a KPI filter.")
        EDITOR.toggle("Can group by", "can_group_by", help="Offer it as a KPI breakdown.")
    if not form["original_id"]:
        file_choice(form)

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


def file_choice(form: dict) -> None:
    chosen = _target_file(form)
    options = forms.collection_files(files, "properties")
    options = options if chosen in options else options + [chosen]
    # Until the analyst picks a file, the choice follows the default (a new widget per default).
    key = EDITOR.key("_file.picked" if form.get("file") else f"_file.default.{chosen}")

    def picked() -> None:
        EDITOR.form["file"] = st.session_state[key]

    st.selectbox("Save to file", options, index=options.index(chosen), key=key, on_change=picked,
                 help="New properties go to one of the property files; by default the one with the most "
                      "properties of the same kind.")


def event_fields(base: str, prefix: str, fi: FieldIssues, with_default: bool) -> None:
    c1, c2 = st.columns(2)
    with c1:
        EDITOR.selectbox("Source event", f"{base}.source_event", catalog.event_ids(resolved),
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
    columns = catalog.event_columns(resolved, EDITOR.get(f"{base}.source_event"))
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
    EDITOR.selectbox("Source column", "registration.source_column", catalog.registration_columns(resolved),
                     placeholder=f"Same as the id ({form['id'] or 'id'})",
                     help="A column of entity_registrations: the registration tables' columns tagged "
                          "registration_property.")
    fi.show("registration_property.source_column", "registration_property")


def computed_fields(base: str, prefix: str, form: dict, fi: FieldIssues) -> None:
    EDITOR.text_area("Select", f"{base}.select", height=90, placeholder="IF({days_since_last_active} = 0, 1, 0)",
                     help="An expression over other properties of the same user and day, written as {property}.")
    fi.show(f"{prefix}.select")
    EDITOR.inserter("Insert a property", f"{base}.select",
                    catalog.reference_properties(resolved, form["original_id"] or form["id"]), lambda p: f"{{{p}}}",
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
            options = catalog.source_property_options(resolved, form["original_id"] or form["id"], broken)
            EDITOR.selectbox("Source property", "window.source_property", options, placeholder="Choose a property",
                             help="Not itself, not a property that already reads it, not one with errors.")
            fi.show(f"{kind}.source_property")
        case "event":
            event_fields("inline_event", f"{kind}.source_event_property", fi, with_default=True)
        case "computed":
            computed_fields("inline_computed", f"{kind}.source_computed_property", form, fi)
    fi.show(f"{kind}.source_event_property", f"{kind}.source_computed_property", f"{kind}.source_property")


# ----------------------------------------------------------------------- preview


@st.fragment
def preview_panel(object_id: str, model_json: str | None, file: str | None, is_new: bool, why_not: str) -> None:
    st.subheader("Preview", anchor=False)
    if model_json is None:
        st.info(why_not, icon=":material/preview_off:")
        return
    c1, c2 = st.columns(2)
    sample = c1.selectbox("Sample", [200, 500, 2000], index=1, key="prop_preview.sample",
                          format_func=lambda n: f"{n:,} users")
    days = c2.selectbox("Window", [7, 28, 60], index=1, key="prop_preview.days", format_func=lambda d: f"last {d} days")
    try:
        result = draft_preview(ROOT, VERSION, "property", object_id, model_json, file, sample, days)
    except AsemicError as err:
        show_error(err)
        return
    if not result.ok:
        show_issues(result.issues)
        return
    impact = shaping.property_impact(result)
    if result.is_new or not result.changed:
        st.info(impact, icon=":material/insights:")
    else:
        st.warning(impact, icon=":material/difference:")
    values = result.values
    if values is None or values.height == 0:
        st.caption("The sample has no user-days in this window.")
        return
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

st.title("Properties")
show_toasts()
wanted = st.query_params.get("property")
if wanted and wanted in files.properties and (EDITOR.form is None or EDITOR.form["original_id"] != wanted):
    open_property(wanted)
if EDITOR.form is None:
    render_list()
else:
    render_editor(EDITOR.form)
