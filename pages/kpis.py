"""KPIs: every KPI of the project (a templated one once, with its values); a form per KPI
with a formula helper and a live preview of the draft on a sample of users."""

from __future__ import annotations

import streamlit as st

from asemic_core.config import writer
from asemic_core.editing import forms, listing
from asemic_core.editing import preview_shaping as shaping
from studio.editor import EditorSpec, ObjectEditor, impact_note
from studio.forms import FieldIssues
from studio.preview_charts import kpi_chart
from studio.session import open_project

TOTALS = ["", "sum", "avg", "count", "min", "max"]  # "": the default
AGGREGATIONS = ["SUM", "AVG", "COUNT", "COUNTD", "MIN", "MAX"]
SNIPPETS = {"+": " + ", "−": " - ", "×": " * ", "÷": " / ", "× 100": " * 100", "SAFE_DIVIDE(": "SAFE_DIVIDE(",
            ", (next argument)": ", ", ")": ")"}
AXIS_WORDS = {"date": "Date (one point per day)", "cohort_day": "Cohort day (days since registration)"}
TEMPLATES = {"none": "No template", "cohort_day": "Cohort days", "list": "List of values"}


def kpi_spec() -> EditorSpec:
    return EditorSpec(
        kind="kpi", noun="KPI", plural="KPIs", prefix="kpi", collection="kpis", query_param="kpi",
        form_of=lambda kpi_id, model, file: forms.kpi_form(kpi_id, model, file, DATE_ALIASES),
        new_form=forms.new_kpi_form,
        from_form=forms.kpi_from_form,
        default_file=lambda form: forms.default_kpi_file(files, set(listing.property_refs(form["select"]))),
        users=lambda kpi_id: listing.kpi_users(resolved, kpi_id),
        save=lambda root, kpi_id, model, file: writer.save_kpi(root, kpi_id, model, file=file),
        delete=writer.delete_kpi,
        fields=kpi_fields,
        preview=preview,
        preview_inputs=template_choice,
        badges=lambda form: [":blue-badge[Templated]"] if form["template"] != "none" else [],
        id_help="The id of a saved KPI cannot change here (other KPIs refer to it).",
        id_placeholder="letters, digits and _; {} for a template slot",
        file_help="By default, the file whose KPIs use the same properties.",
    )


# ------------------------------------------------------------------------- list


def render_list() -> None:
    rows = listing.kpi_rows(files, report.issues)
    broken = sum(1 for r in rows if r.errors)
    templated = sum(1 for r in rows if r.template)
    summary = f"{len(rows)} KPIs in {len({r.file for r in rows})} file(s)"
    summary += f", {templated} templated" if templated else ""
    st.caption(summary + (f" · :red[{broken} with errors]" if broken else ""))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        query = st.text_input("Search", key="kpi_list.search", placeholder="Id, label, formula or description",
                              icon=":material/search:", width=360)
        st.selectbox("Open", [r.id for r in rows], index=None, key="kpi_list.jump", on_change=editor.jump_to,
                     placeholder="Type an id to open it", width=240)
        new_kpi_popover()
    shown = listing.filter_rows(rows, query or "")
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
    # about 950 px in all (Where only when a KPI has one): the table fits the page beside the sidebar
    widths = {"Id": 120, "Label": 130, "Formula": 250, "Where": 150, "X axis (total)": 170, "Unit": 45,
              "Template values": 110, "File": 110}
    config = {name: st.column_config.TextColumn(width=width) for name, width in widths.items() if name in table}
    config["File"] = st.column_config.TextColumn(width=120, help="Under userentity/kpis/ (file:line)")
    st.dataframe(table, key="kpi_list.table", on_select=lambda: editor.open_selected("kpi_list.table", "kpi_list.ids"),
                 selection_mode="single-row",
                 hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 720), column_config=config)
    st.caption("Click a row to open the KPI. A templated KPI (`{}` in its id) is listed once, with the values "
               "it expands to.")


def new_kpi_popover() -> None:
    editor.new_popover("e.g. sessions_per_user", help="Use one {} slot (retention_d{}) for a templated KPI.")


# ------------------------------------------------------------------------ editor


def kpi_fields(form: dict, fi: FieldIssues) -> None:
    c1, c2 = st.columns([1, 1])
    with c1:
        editor.id_field(form, fi)
    with c2:
        editor.label_field(form, fi)
    editor.description_field(fi)
    if not form["original_id"]:
        editor.file_choice(form)

    EDITOR.text_area("Select", "select", height=90, placeholder="SAFE_DIVIDE(SUM({property.revenue_on_day}), "
                     "SUM({property.dau_active}))",
                     help="Every {property.x} inside SUM, AVG, COUNT, COUNTD, MIN or MAX; {kpi.k} outside them.")
    fi.show("select")
    formula_helper(form)
    EDITOR.text_input("Where", "where", placeholder="optional, e.g. {property.platform} = 'ios'",
                      help="A filter over {property.x} applied to every aggregation.")
    fi.show("where")
    EDITOR.inserter("Insert a filter property", "where", listing.filterable_properties(resolved),
                    lambda p: f"{{property.{p}}}", placeholder="Pick a property to add {property.x} to the where")

    # The options' words stay the same while the select changes (a widget shows the labels it was
    # created with): what "default" means is said under the field.
    suggested = forms.suggested_default_total(form)
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
        EDITOR.selectbox("Default total function", "total_function", TOTALS, format_func=lambda t: t or "default",
                         help="How a KPI's points add up to weeks, months and its total, on every axis whose "
                              "total is 'default'.")
        if suggested:
            st.caption(f":material/functions: **{suggested}** by default: the select divides two measures, so each "
                       "point is a ratio (like ARPDAU or a retention %). A week's or a month's ratio is the average of "
                       "its daily ratios; adding them up would show about seven times a day's value for a week. "
                       "Pick **sum** to add the points up instead.")
        elif not form["total_function"] and any(not form["axis_totals"][a] for a in AXIS_WORDS if form["axes"][a]):
            st.caption(":material/functions: **sum** by default: a week's, a month's and the total's value add up "
                       "their points. Ratios (a select dividing two measures) average them instead.")
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


def formula_helper(form: dict) -> None:
    with st.expander("Formula helper", icon=":material/function:", expanded=form["original_id"] is None):
        c1, c2 = st.columns([1, 3])
        with c1:
            aggregation = st.selectbox("Aggregation", AGGREGATIONS, key="kpi_helper.aggregation")
        with c2:
            EDITOR.inserter("Insert an aggregated property", "select",
                            listing.aggregatable_properties(resolved, aggregation),
                            lambda p: f"{aggregation}({{property.{p}}})", name="property",
                            placeholder=f"Pick a property to add {aggregation}({{property.x}})")
        axes = [a for a in forms.AXES if form["axes"].get(a)]
        EDITOR.inserter("Insert a KPI", "select", listing.kpi_reference_options(resolved, form["id"].strip(), axes),
                        lambda k: f"{{kpi.{k}}}", name="kpi",
                        placeholder="Pick a KPI (with the same x axis) to add {kpi.k}")
        EDITOR.snippets("Operators and functions", "select", SNIPPETS)
        st.caption("Inserts go at the end of the select. Example: `SAFE_DIVIDE(` → a property → `,` → another → `)` "
                   "→ `× 100`.")


# ----------------------------------------------------------------------- preview


def template_choice(object_id: str, form: dict) -> tuple:
    """The template value a templated draft is previewed with (none for a plain KPI)."""
    template_value = None
    if form["template"] != "none":
        values = COHORT_DAYS if form["template"] == "cohort_day" else forms.template_list(form["template_values"])
        if values:
            options = [str(v) for v in values]
            first = next((i for i, v in enumerate(options) if v != "0"), 0)  # day 0 retention is always 100%
            template_value = st.selectbox("Template value", options, index=first, key="kpi_preview.template",
                                          format_func=lambda v: object_id.replace("{}", v))
    return (template_value,)


def preview(result, object_id: str, model_json: str, form: dict) -> None:
    """A KPI draft's points on the sample, next to the saved definition's."""
    if result.points is None:
        for note in result.notes:
            st.caption(note)
        return
    impact_note(result, shaping.kpi_impact(result))
    axis = shaping.kpi_axis(result.points)
    long = shaping.kpi_long(result.points, not result.is_new)
    st.altair_chart(kpi_chart(long, axis, form["unit_symbol"]), width="stretch")
    notes = list(result.notes)
    if "date" in form["axes"] and form["axes"]["date"] and form["axes"]["cohort_day"]:
        notes.append("the preview shows the date axis")
    refs = listing.property_refs(form["select"])
    if refs:
        notes.append("reads " + ", ".join(f"`{r}`" for r in refs))
    if notes:
        text = "; ".join(notes)
        st.caption(text[0].upper() + text[1:] + ".")
    with st.expander("Points"):
        st.dataframe(result.points.rename({"value": "draft", "saved_value": "saved"}), hide_index=True,
                     width="stretch", column_config={"date": st.column_config.DateColumn(format="YYYY-MM-DD")})


# --------------------------------------------------------------------------- page

editor = ObjectEditor(kpi_spec(), open_project())
EDITOR, files, resolved, report = editor.draft, editor.files, editor.resolved, editor.report
COHORT_DAYS = list(files.entity.model.cohorted_daily_kpis_days) if files.entity else []
DATE_ALIASES = {alias for alias, target in resolved.property_aliases.items() if target == "date"}
editor.run("KPIs", render_list)
