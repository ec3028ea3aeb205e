"""KPIs: every KPI of the project (a templated one once, with its values); a form per KPI
with a formula helper and a live preview of the draft on a sample of users."""

from __future__ import annotations

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
from asemic_core.editing import catalog, forms
from asemic_core.editing import preview as shaping
from studio.preview_charts import kpi_chart
from asemic_core.errors import AsemicError

EDITOR = DraftForm("kpi_editor")
CONFIRM_DELETE = "kpi_editor#confirm_delete"  # keys of studio.forms.action_bar
SAVE_PROBLEM = "kpi_editor#save_problem"
TOTALS = ["", "sum", "avg", "count", "min", "max"]  # "": the default
AGGREGATIONS = ["SUM", "AVG", "COUNT", "COUNTD", "MIN", "MAX"]
SNIPPETS = {"+": " + ", "−": " - ", "×": " * ", "÷": " / ", "× 100": " * 100", "SAFE_DIVIDE(": "SAFE_DIVIDE(",
            ", (next argument)": ", ", ")": ")"}
AXIS_WORDS = {"date": "Date (one point per day)", "cohort_day": "Cohort day (days since registration)"}
TEMPLATES = {"none": "No template", "cohort_day": "Cohort days", "list": "List of values"}

project = open_project()
ROOT, VERSION = str(project.root), config_version(project)
files, resolved = project_state(ROOT, VERSION)
report = validation_report(ROOT, VERSION)
COHORT_DAYS = list(files.entity.model.cohorted_daily_kpis_days) if files.entity else []
DATE_ALIASES = {alias for alias, target in resolved.property_aliases.items() if target == "date"}


# --------------------------------------------------------------------- callbacks


def open_kpi(kpi_id: str) -> None:
    located = project.files().kpis.get(kpi_id)
    if located is None:
        return
    EDITOR.open(forms.kpi_form(kpi_id, located.model, located.file, DATE_ALIASES))
    st.session_state.pop(CONFIRM_DELETE, None)
    st.session_state.pop(SAVE_PROBLEM, None)
    st.query_params["kpi"] = kpi_id
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("kpi_list.table")]:
        del st.session_state[key]


def open_selected() -> None:
    selection = st.session_state.get("kpi_list.table")
    rows = selection.selection.rows if selection is not None else []
    ids = st.session_state.get("kpi_list.ids", [])
    if rows and rows[0] < len(ids):
        open_kpi(ids[rows[0]])


def jump_to() -> None:
    choice = st.session_state.get("kpi_list.jump")
    st.session_state["kpi_list.jump"] = None
    if choice:
        open_kpi(choice)


def create_kpi() -> None:
    form = forms.new_kpi_form()
    form["id"] = (st.session_state.get("kpi_new.id") or "").strip()
    EDITOR.open(form)
    st.session_state.pop(CONFIRM_DELETE, None)
    st.session_state.pop(SAVE_PROBLEM, None)
    st.query_params.pop("kpi", None)
    st.session_state["kpi_new.id"] = ""


def close_editor() -> None:
    EDITOR.close()
    st.session_state.pop(CONFIRM_DELETE, None)
    st.query_params.pop("kpi", None)


def revert() -> None:
    open_kpi(EDITOR.form["original_id"])


def _target_file(form: dict) -> str | None:
    if form["original_id"]:
        saved = files.kpis.get(form["original_id"])
        return saved.file if saved else None
    return form.get("file") or forms.default_kpi_file(files, set(catalog.property_refs(form["select"])))


def save() -> None:
    form = EDITOR.form
    object_id = form["id"].strip()
    model, issues = forms.kpi_from_form(form)
    issues += forms.id_issues("kpi", form, set(project.files().kpis))
    if model is not None and not issues:
        issues = [i for i in draft_issues(ROOT, config_version(project), "kpi", object_id, forms.model_json(model),
                                          _target_file(form)) if i.is_error]
    if model is None or issues:
        st.session_state[SAVE_PROBLEM] = "Nothing was saved: fix the errors shown next to the fields first."
        return
    try:
        written = writer.save_kpi(ROOT, object_id, model, file=None if form["original_id"] else _target_file(form))
    except AsemicError as err:
        st.session_state[SAVE_PROBLEM] = f"Nothing was saved: {err.message}"
        return
    queue_toast(f"Saved **{object_id}** to `{written}`")
    EDITOR.open(forms.kpi_form(object_id, model, written, DATE_ALIASES))
    st.session_state.pop(SAVE_PROBLEM, None)
    st.query_params["kpi"] = object_id


def delete() -> None:
    kpi_id = EDITOR.form["original_id"]
    try:
        written = writer.delete_kpi(ROOT, kpi_id)
    except AsemicError as err:
        st.session_state[SAVE_PROBLEM] = f"Nothing was deleted: {err.message}"
        return
    queue_toast(f"Deleted **{kpi_id}** from `{written}`", icon=":material/delete:")
    close_editor()


# ------------------------------------------------------------------------- list


def render_list() -> None:
    rows = catalog.kpi_rows(files, report.issues)
    broken = sum(1 for r in rows if r.errors)
    templated = sum(1 for r in rows if r.template)
    summary = f"{len(rows)} KPIs in {len({r.file for r in rows})} file(s)"
    summary += f", {templated} templated" if templated else ""
    st.caption(summary + (f" · :red[{broken} with errors]" if broken else ""))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        query = st.text_input("Search", key="kpi_list.search", placeholder="Id, label, formula or description",
                              icon=":material/search:", width=360)
        st.selectbox("Open", [r.id for r in rows], index=None, key="kpi_list.jump", on_change=jump_to,
                     placeholder="Type an id to open it", width=240)
        new_kpi_popover()
    shown = catalog.filter_rows(rows, query or "")
    if not rows:
        st.info("This project has no KPIs yet. Create the first one with **New KPI**.", icon=":material/info:")
        return
    if not shown:
        st.info("No KPI matches the search.", icon=":material/search_off:")
        return
    st.session_state["kpi_list.ids"] = [r.id for r in shown]
    table = {
        "Id": [r.id for r in shown],
        "Label": [r.label for r in shown],
        "Formula": [r.select for r in shown],
        "X axis (total)": [r.axes for r in shown],
        "Unit": [r.unit for r in shown],
        "Template values": [r.template for r in shown],
        "File": [r.location.removeprefix("userentity/kpis/") for r in shown],
        "Where": [r.where for r in shown],
        "Status": ["⚠ errors" if r.errors else "" for r in shown],
    }
    for column in ("Where", "Unit", "Template values", "Status"):
        if not any(table[column]):
            del table[column]
    widths = {"Id": 130, "Label": 140, "Formula": 280, "Where": 150, "X axis (total)": 150, "Unit": 50,
              "Template values": 150, "File": 120}
    config = {name: st.column_config.TextColumn(width=width) for name, width in widths.items() if name in table}
    config["File"] = st.column_config.TextColumn(width=120, help="Under userentity/kpis/ (file:line)")
    st.dataframe(table, key="kpi_list.table", on_select=open_selected, selection_mode="single-row",
                 hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 720), column_config=config)
    st.caption("Click a row to open the KPI. A templated KPI (`{}` in its id) is listed once, with the values "
               "it expands to.")


def new_kpi_popover() -> None:
    with st.popover("New KPI", icon=":material/add:", type="primary"):
        with st.form("kpi_new", border=False, enter_to_submit=True):
            st.text_input("Id", key="kpi_new.id", placeholder="e.g. sessions_per_user",
                          help="Use one {} slot (retention_d{}) for a templated KPI.")
            st.form_submit_button("Create", type="primary", on_click=create_kpi)


# ------------------------------------------------------------------------ editor


def render_editor(form: dict) -> None:
    object_id = form["id"].strip()
    saved = files.kpis.get(form["original_id"]) if form["original_id"] else None
    model, issues = forms.kpi_from_form(form)
    issues += forms.id_issues("kpi", form, set(files.kpis))
    model_json = forms.model_json(model) if model is not None and not issues else None
    if model_json is not None:
        issues += draft_issues(ROOT, VERSION, "kpi", object_id, model_json, _target_file(form))
    issues, pending = forms.untouched_required(issues, form)
    field_issues = FieldIssues(issues, object_id)
    elsewhere = [i for i in issues if i.object_id not in (object_id, None) and i.is_error]
    valid = model_json is not None and not field_issues.has_errors() and not elsewhere
    dirty = saved is None or model != saved.model

    editor_header(form, saved, dirty, field_issues.has_errors() or bool(elsewhere))
    left, right = st.columns([11, 9], gap="large")
    with left:
        general = st.container()
        kpi_fields(form, field_issues)
        field_issues.show_unclaimed(general)
        if elsewhere:
            st.error("This draft breaks other objects:", icon=":material/link_off:")
            show_issues(elsewhere)
        action_bar(EDITOR, "KPI", saved_id=saved.id if saved else None, saved_file=saved.file if saved else None,
                   users=catalog.kpi_users(resolved, saved.id) if saved else [], valid=valid, dirty=dirty,
                   to_fill=FieldIssues.pending_text(pending), on_save=save, on_revert=revert, on_delete=delete)
    with right:
        why_not = "Fix the errors in the form to see a preview."
        if pending and not field_issues.has_errors() and not elsewhere:
            why_not = f"Fill in {FieldIssues.pending_text(pending)} to see a preview."
        preview_panel(object_id, model_json if valid else None, _target_file(form), form, why_not)


def editor_header(form: dict, saved, dirty: bool, has_errors: bool) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("All KPIs", icon=":material/arrow_back:", type="tertiary", on_click=close_editor,
                  key="kpi_editor_back")
        st.space("stretch")
        st.selectbox("Open another KPI", list(files.kpis), index=None, key="kpi_list.jump", on_change=jump_to,
                     placeholder="Open another KPI…", label_visibility="collapsed", width=280)
    title = form["label"].strip() or form["id"].strip() or "New KPI"
    badges = []
    if form["template"] != "none":
        badges.append(":blue-badge[Templated]")
    if saved is None:
        badges.append(":violet-badge[New]")
    elif dirty:
        badges.append(":orange-badge[:material/edit: Unsaved changes]")
    if has_errors:
        badges.append(":red-badge[:material/error: Errors]")
    editor_title(title, badges)
    if saved is not None:
        users = catalog.kpi_users(resolved, saved.id)
        reads = f" · used by {used_by_text(users)}" if users else ""
        st.caption(f"`{saved.id}` · `{saved.file}:{saved.line}`{reads}")


def kpi_fields(form: dict, fi: FieldIssues) -> None:
    c1, c2 = st.columns([1, 1])
    with c1:
        if form["original_id"]:
            st.text_input("Id", value=form["id"], disabled=True, key="kpi_editor_id_ro",
                          help="The id of a saved KPI cannot change here (other KPIs refer to it).")
        else:
            EDITOR.text_input("Id", "id", placeholder="letters, digits and _; {} for a template slot")
        fi.show("id")
    with c2:
        EDITOR.text_input("Label", "label", placeholder=forms.default_label(form["id"]) if form["id"] else "")
        fi.show("label")
    EDITOR.text_input("Description", "description")
    fi.show("description")
    if not form["original_id"]:
        file_choice(form)

    EDITOR.text_area("Select", "select", height=90, placeholder="SAFE_DIVIDE(SUM({property.revenue_on_day}), "
                     "SUM({property.dau_active}))",
                     help="Every {property.x} inside SUM, AVG, COUNT, COUNTD, MIN or MAX; {kpi.k} outside them.")
    fi.show("select")
    formula_helper(form)
    EDITOR.text_input("Where", "where", placeholder="optional, e.g. {property.platform} = 'ios'",
                      help="A filter over {property.x} applied to every aggregation.")
    fi.show("where")
    EDITOR.inserter("Insert a filter property", "where", catalog.filterable_properties(resolved),
                    lambda p: f"{{property.{p}}}", placeholder="Pick a property to add {property.x} to the where")

    with st.container(border=True):
        st.markdown("**X axis**")
        for axis, words in AXIS_WORDS.items():
            c1, c2 = st.columns([3, 2], vertical_alignment="center")
            with c1:
                EDITOR.checkbox(words, f"axes.{axis}")
            with c2:
                EDITOR.selectbox("Total", f"axis_totals.{axis}", TOTALS, disabled=not form["axes"][axis],
                                 format_func=lambda t: t or "default", label_visibility="collapsed",
                                 help=f"How the points of the {axis} axis add up to a total.")
        fi.show("x_axis")
        EDITOR.selectbox("Default total function", "total_function", TOTALS, format_func=lambda t: t or "sum (default)",
                         help="Used by an axis whose total is 'default'.")
        fi.show("total_function")

    c1, c2 = st.columns([1, 1], vertical_alignment="bottom")
    with c1:
        EDITOR.text_input("Unit symbol", "unit_symbol", placeholder="e.g. % or $")
    with c2:
        EDITOR.toggle("Symbol before the value", "unit_prefix", disabled=not form["unit_symbol"].strip())
    if form["unit_symbol"].strip():
        symbol = form["unit_symbol"].strip()
        st.caption(f"Shown as **{symbol}12.5**" if form["unit_prefix"] else f"Shown as **12.5{symbol}**")
    fi.show("unit")

    EDITOR.segmented_control("Template", "template", list(TEMPLATES), format_func=TEMPLATES.get, required=True)
    if form["template"] == "cohort_day":
        st.caption(f"One KPI per cohort day of the entity config ({', '.join(map(str, COHORT_DAYS))}); "
                   "`{}` in the id, label, description and where is replaced by each value.")
    elif form["template"] == "list":
        EDITOR.text_input("Template values", "template_values", placeholder="e.g. 1, 7, 30 or ios, android")
        st.caption("`{}` in the id, label, description and where is replaced by each value.")
    fi.show("template")


def file_choice(form: dict) -> None:
    chosen = _target_file(form)
    options = forms.collection_files(files, "kpis")
    options = options if chosen in options else options + [chosen]
    # Until the analyst picks a file, the choice follows the default (a new widget per default).
    key = EDITOR.key("_file.picked" if form.get("file") else f"_file.default.{chosen}")

    def picked() -> None:
        EDITOR.form["file"] = st.session_state[key]

    st.selectbox("Save to file", options, index=options.index(chosen), key=key, on_change=picked,
                 help="By default, the file whose KPIs use the same properties.")


def formula_helper(form: dict) -> None:
    with st.expander("Formula helper", icon=":material/function:", expanded=form["original_id"] is None):
        c1, c2 = st.columns([1, 3])
        with c1:
            aggregation = st.selectbox("Aggregation", AGGREGATIONS, key="kpi_helper.aggregation")
        with c2:
            EDITOR.inserter("Insert an aggregated property", "select",
                            catalog.aggregatable_properties(resolved, aggregation),
                            lambda p: f"{aggregation}({{property.{p}}})", name="property",
                            placeholder=f"Pick a property to add {aggregation}({{property.x}})")
        axes = [a for a in forms.AXES if form["axes"].get(a)]
        EDITOR.inserter("Insert a KPI", "select", catalog.kpi_reference_options(resolved, form["id"].strip(), axes),
                        lambda k: f"{{kpi.{k}}}", name="kpi",
                        placeholder="Pick a KPI (with the same x axis) to add {kpi.k}")
        EDITOR.snippets("Operators and functions", "select", SNIPPETS)
        st.caption("Inserts go at the end of the select. Example: `SAFE_DIVIDE(` → a property → `,` → another → `)` "
                   "→ `× 100`.")


# ----------------------------------------------------------------------- preview


@st.fragment
def preview_panel(object_id: str, model_json: str | None, file: str | None, form: dict, why_not: str) -> None:
    st.subheader("Preview", anchor=False)
    if model_json is None:
        st.info(why_not, icon=":material/preview_off:")
        return
    c1, c2 = st.columns(2)
    sample = c1.selectbox("Sample", [200, 500, 2000], index=1, key="kpi_preview.sample",
                          format_func=lambda n: f"{n:,} users")
    days = c2.selectbox("Window", [7, 28, 60], index=1, key="kpi_preview.days", format_func=lambda d: f"last {d} days")
    template_value = None
    if form["template"] != "none":
        values = COHORT_DAYS if form["template"] == "cohort_day" else forms.template_list(form["template_values"])
        if values:
            options = [str(v) for v in values]
            first = next((i for i, v in enumerate(options) if v != "0"), 0)  # day 0 retention is always 100%
            template_value = st.selectbox("Template value", options, index=first, key="kpi_preview.template",
                                          format_func=lambda v: object_id.replace("{}", v))
    try:
        result = draft_preview(ROOT, VERSION, "kpi", object_id, model_json, file, sample, days, template_value)
    except AsemicError as err:
        show_error(err)
        return
    if not result.ok:
        show_issues(result.issues)
        return
    if result.points is None:
        for note in result.notes:
            st.caption(note)
        return
    impact = shaping.kpi_impact(result)
    if result.is_new or not result.changed:
        st.info(impact, icon=":material/insights:")
    else:
        st.warning(impact, icon=":material/difference:")
    axis = shaping.kpi_axis(result.points)
    long = shaping.kpi_long(result.points, not result.is_new)
    st.altair_chart(kpi_chart(long, axis, form["unit_symbol"]), width="stretch")
    notes = list(result.notes)
    if "date" in form["axes"] and form["axes"]["date"] and form["axes"]["cohort_day"]:
        notes.append("the preview shows the date axis")
    refs = catalog.property_refs(form["select"])
    if refs:
        notes.append("reads " + ", ".join(f"`{r}`" for r in refs))
    if notes:
        text = "; ".join(notes)
        st.caption(text[0].upper() + text[1:] + ".")
    with st.expander("Points"):
        st.dataframe(result.points.rename({"value": "draft", "saved_value": "saved"}), hide_index=True,
                     width="stretch", column_config={"date": st.column_config.DateColumn(format="YYYY-MM-DD")})


# --------------------------------------------------------------------------- page

st.title("KPIs")
show_toasts()
wanted = st.query_params.get("kpi")
if wanted and wanted in files.kpis and (EDITOR.form is None or EDITOR.form["original_id"] != wanted):
    open_kpi(wanted)
if EDITOR.form is None:
    render_list()
else:
    render_editor(EDITOR.form)
