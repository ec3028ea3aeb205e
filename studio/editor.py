"""The editor flow shared by the Properties and KPIs pages, written once.

A page describes its object (an :class:`EditorSpec`: its noun, its form's fields, its
preview) and calls :meth:`ObjectEditor.run`; the editor does the rest the same way for
both: open an object from the list, the URL or the jump box; create a new one; check the
draft (its own fields, then the project with the draft in it); show issues next to their
fields; preview on a sample next to the saved definition; save, revert and delete through
the writer, with toasts.

Session keys (``<prefix>`` is ``prop`` or ``kpi``): the draft ``<prefix>_editor``, its
widgets ``<prefix>_editor.<field path>``, list widgets ``<prefix>_list.*``, the "new"
popover ``<prefix>_new.*``, preview inputs ``<prefix>_preview.*``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from asemic_core.editing import forms
from asemic_core.errors import AsemicError
from asemic_core.project import Project
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
from studio.session import config_version, show_error, show_issues, validation_report


@dataclass(frozen=True)
class EditorSpec:
    """What differs between the property and the KPI editors."""

    kind: str  # the draft kind of the verbs: "property" | "kpi"
    noun: str  # "property" | "KPI"
    plural: str  # "properties" | "KPIs"
    prefix: str  # session key prefix: "prop" | "kpi"
    collection: str  # the ProjectFiles attribute and config folder: "properties" | "kpis"
    query_param: str  # ?property=... | ?kpi=...
    form_of: Callable[[str, Any, str], dict]  # (id, saved model, file) -> the draft
    new_form: Callable[[], dict]  # the empty draft of the "New" popover
    from_form: Callable[[dict], tuple[Any, list]]  # draft -> (model or None, issues)
    default_file: Callable[[dict], str]  # where a new object goes unless the analyst picks a file
    users: Callable[[str], list[str]]  # graph nodes that read a saved object
    save: Callable[[str, str, Any, str | None], str]  # writer: (root, id, model, file) -> file written
    delete: Callable[[str, str], str]  # writer: (root, id) -> file written
    fields: Callable[[dict, FieldIssues], None]  # the form's own widgets
    preview: Callable[[Any, str, str, dict], None]  # renders a PreviewResult: (result, id, model_json, draft)
    preview_inputs: Callable[[str, dict], tuple] = lambda object_id, form: ()  # extra preview arguments
    badges: Callable[[dict], list[str]] = lambda form: []  # badges before New / Unsaved / Errors
    id_help: str = ""
    id_placeholder: str = ""
    file_help: str = ""
    unused_note: str = ""  # caption when nothing reads the saved object


class ObjectEditor:
    """One page's editor for one run of the page (callbacks run at the start of the next run)."""

    def __init__(self, spec: EditorSpec, project: Project) -> None:
        self.spec = spec
        self.project = project
        self.root, self.version = str(project.root), config_version(project)
        self.files, self.resolved = project_state(self.root, self.version)
        self.report = validation_report(self.root, self.version)
        self.draft = DraftForm(f"{spec.prefix}_editor")
        self.confirm_delete = f"{spec.prefix}_editor#confirm_delete"  # keys of studio.forms.action_bar
        self.save_problem = f"{spec.prefix}_editor#save_problem"

    # -- names -----------------------------------------------------------------------
    def key(self, part: str) -> str:
        """A list, popover or preview widget key: ``key("list.jump")`` -> ``prop_list.jump``."""
        return f"{self.spec.prefix}_{part}"

    def saved(self) -> dict:
        return getattr(self.files, self.spec.collection)

    # -- callbacks -------------------------------------------------------------------
    def open(self, object_id: str) -> None:
        located = getattr(self.project.files(), self.spec.collection).get(object_id)
        if located is None:
            return
        self.draft.open(self.spec.form_of(object_id, located.model, located.file))
        st.session_state.pop(self.confirm_delete, None)
        st.session_state.pop(self.save_problem, None)
        st.query_params[self.spec.query_param] = object_id
        prefix = self.key("list.table")
        for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix)]:
            del st.session_state[key]

    def open_selected(self, table_key: str, ids_key: str) -> None:
        """The row clicked in the list table ``table_key`` (whose ids are in ``ids_key``)."""
        selection = st.session_state.get(table_key)
        rows = selection.selection.rows if selection is not None else []
        ids = st.session_state.get(ids_key, [])
        if rows and rows[0] < len(ids):
            self.open(ids[rows[0]])

    def jump_to(self) -> None:
        jump = self.key("list.jump")
        choice = st.session_state.get(jump)
        st.session_state[jump] = None
        if choice:
            self.open(choice)

    def create(self) -> None:
        form = self.spec.new_form()
        form["id"] = (st.session_state.get(self.key("new.id")) or "").strip()
        self.draft.open(form)
        st.session_state.pop(self.confirm_delete, None)
        st.session_state.pop(self.save_problem, None)
        st.query_params.pop(self.spec.query_param, None)
        st.session_state[self.key("new.id")] = ""

    def close(self) -> None:
        self.draft.close()
        st.session_state.pop(self.confirm_delete, None)
        st.query_params.pop(self.spec.query_param, None)

    def revert(self) -> None:
        self.open(self.draft.form["original_id"])

    def save(self) -> None:
        spec, form = self.spec, self.draft.form
        object_id = form["id"].strip()
        model, issues = spec.from_form(form)
        issues += forms.id_issues(spec.kind, form, set(getattr(self.project.files(), spec.collection)))
        if model is not None and not issues:
            issues = [i for i in draft_issues(self.root, config_version(self.project), spec.kind, object_id,
                                              forms.model_json(model), self.target_file(form)) if i.is_error]
        if model is None or issues:
            st.session_state[self.save_problem] = "Nothing was saved: fix the errors shown next to the fields first."
            return
        try:
            written = spec.save(self.root, object_id, model, None if form["original_id"] else self.target_file(form))
        except AsemicError as err:
            st.session_state[self.save_problem] = f"Nothing was saved: {err.message}"
            return
        queue_toast(f"Saved **{object_id}** to `{written}`")
        self.draft.open(spec.form_of(object_id, model, written))
        st.session_state.pop(self.save_problem, None)
        st.query_params[spec.query_param] = object_id

    def delete(self) -> None:
        object_id = self.draft.form["original_id"]
        try:
            written = self.spec.delete(self.root, object_id)
        except AsemicError as err:
            st.session_state[self.save_problem] = f"Nothing was deleted: {err.message}"
            return
        queue_toast(f"Deleted **{object_id}** from `{written}`", icon=":material/delete:")
        self.close()

    def target_file(self, form: dict) -> str | None:
        """Where the draft is (or will be) written: its file, else the file picked, else the
        default for a new object."""
        if form["original_id"]:
            saved = self.saved().get(form["original_id"])
            return saved.file if saved else None
        return form.get("file") or self.spec.default_file(form)

    # -- the page ----------------------------------------------------------------------
    def run(self, title: str, render_list: Callable[[], None]) -> None:
        """The page: the list, or the editor of the object in the URL or in the session."""
        st.title(title)
        show_toasts()
        wanted = st.query_params.get(self.spec.query_param)
        form = self.draft.form
        if wanted and wanted in self.saved() and (form is None or form["original_id"] != wanted):
            self.open(wanted)
        if self.draft.form is None:
            render_list()
        else:
            self.render_editor(self.draft.form)

    def new_popover(self, placeholder: str, help: str | None = None, extra: Callable[[], None] | None = None) -> None:
        """The "New <noun>" popover: an id (and what ``extra`` adds), then Create."""
        with st.popover(f"New {self.spec.noun}", icon=":material/add:", type="primary"):
            with st.form(self.key("new"), border=False, enter_to_submit=True):
                st.text_input("Id", key=self.key("new.id"), placeholder=placeholder, help=help)
                if extra is not None:
                    extra()
                st.form_submit_button("Create", type="primary", on_click=self.create)

    def render_editor(self, form: dict) -> None:
        spec = self.spec
        object_id = form["id"].strip()
        saved = self.saved().get(form["original_id"]) if form["original_id"] else None
        model, issues = spec.from_form(form)
        issues += forms.id_issues(spec.kind, form, set(self.saved()))
        model_json = forms.model_json(model) if model is not None and not issues else None
        if model_json is not None:
            issues += draft_issues(self.root, self.version, spec.kind, object_id, model_json, self.target_file(form))
        issues, pending = forms.untouched_required(issues, form)
        field_issues = FieldIssues(issues, object_id)
        elsewhere = [i for i in issues if i.object_id not in (object_id, None) and i.is_error]
        valid = model_json is not None and not field_issues.has_errors() and not elsewhere
        dirty = saved is None or model != saved.model

        self.header(form, saved, dirty, field_issues.has_errors() or bool(elsewhere))
        left, right = st.columns([11, 9], gap="large")
        with left:
            general = st.container()
            spec.fields(form, field_issues)
            field_issues.show_unclaimed(general)
            if elsewhere:
                st.error("This draft breaks other objects:", icon=":material/link_off:")
                show_issues(elsewhere)
            action_bar(self.draft, spec.noun, saved_id=saved.id if saved else None,
                       saved_file=saved.file if saved else None, users=spec.users(saved.id) if saved else [],
                       valid=valid, dirty=dirty, to_fill=FieldIssues.pending_text(pending), on_save=self.save,
                       on_revert=self.revert, on_delete=self.delete)
        with right:
            why_not = "Fix the errors in the form to see a preview."
            if pending and not field_issues.has_errors() and not elsewhere:
                why_not = f"Fill in {FieldIssues.pending_text(pending)} to see a preview."
            preview_panel(self, object_id, model_json if valid else None, self.target_file(form), form, why_not)

    def header(self, form: dict, saved, dirty: bool, has_errors: bool) -> None:
        spec = self.spec
        with st.container(horizontal=True, vertical_alignment="center"):
            st.button(f"All {spec.plural}", icon=":material/arrow_back:", type="tertiary", on_click=self.close,
                      key=f"{self.draft.name}_back")
            st.space("stretch")
            st.selectbox(f"Open another {spec.noun}", list(self.saved()), index=None, key=self.key("list.jump"),
                         on_change=self.jump_to, placeholder=f"Open another {spec.noun}…",
                         label_visibility="collapsed", width=280)
        title = form["label"].strip() or form["id"].strip() or f"New {spec.noun}"
        badges = spec.badges(form)
        if saved is None:
            badges.append(":violet-badge[New]")
        elif dirty:
            badges.append(":orange-badge[:material/edit: Unsaved changes]")
        if has_errors:
            badges.append(":red-badge[:material/error: Errors]")
        editor_title(title, badges)
        if saved is not None:
            users = spec.users(saved.id)
            reads = f" · used by {used_by_text(users)}" if users else spec.unused_note
            st.caption(f"`{saved.id}` · `{saved.file}:{saved.line}`{reads}")
        elif form["original_id"]:
            st.warning(f"`{form['original_id']}` is no longer in the files; saving writes it again.")

    # -- fields every object has ---------------------------------------------------------
    def id_field(self, form: dict, fi: FieldIssues) -> None:
        if form["original_id"]:
            st.text_input("Id", value=form["id"], disabled=True, key=f"{self.draft.name}_id_ro", help=self.spec.id_help)
        else:
            self.draft.text_input("Id", "id", placeholder=self.spec.id_placeholder)
        fi.show("id")

    def label_field(self, form: dict, fi: FieldIssues) -> None:
        self.draft.text_input("Label", "label", placeholder=forms.default_label(form["id"]) if form["id"] else "")
        fi.show("label")

    def description_field(self, fi: FieldIssues) -> None:
        self.draft.text_input("Description", "description")
        fi.show("description")

    def file_choice(self, form: dict) -> None:
        """Which file a new object goes to (offered only before its first save)."""
        chosen = self.target_file(form)
        options = forms.collection_files(self.files, self.spec.collection)
        options = options if chosen in options else options + [chosen]
        # Until the analyst picks a file, the choice follows the default (a new widget per default).
        key = self.draft.key("_file.picked" if form.get("file") else f"_file.default.{chosen}")

        def picked() -> None:
            self.draft.form["file"] = st.session_state[key]

        st.selectbox("Save to file", options, index=options.index(chosen), key=key, on_change=picked,
                     help=self.spec.file_help)


@st.fragment
def preview_panel(editor: ObjectEditor, object_id: str, model_json: str | None, file: str | None, form: dict,
                  why_not: str) -> None:
    """The draft on a sample of users next to the saved definition (reruns on its own)."""
    st.subheader("Preview", anchor=False)
    if model_json is None:
        st.info(why_not, icon=":material/preview_off:")
        return
    c1, c2 = st.columns(2)
    sample = c1.selectbox("Sample", [200, 500, 2000], index=1, key=editor.key("preview.sample"),
                          format_func=lambda n: f"{n:,} users")
    days = c2.selectbox("Window", [7, 28, 60], index=1, key=editor.key("preview.days"),
                        format_func=lambda d: f"last {d} days")
    extra = editor.spec.preview_inputs(object_id, form)
    try:
        result = draft_preview(editor.root, editor.version, editor.spec.kind, object_id, model_json, file, sample,
                               days, *extra)
    except AsemicError as err:
        show_error(err)
        return
    if not result.ok:
        show_issues(result.issues)
        return
    editor.spec.preview(result, object_id, model_json, form)


def impact_note(result, text: str) -> None:
    """How the draft compares with the saved definition: a warning when it changes values."""
    if result.is_new or not result.changed:
        st.info(text, icon=":material/insights:")
    else:
        st.warning(text, icon=":material/difference:")
