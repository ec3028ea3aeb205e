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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from asemic_core.editing import forms
from asemic_core.editing.draft_store import discard_draft, load_draft, save_draft
from asemic_core.errors import AsemicError
from asemic_core.project import Project
from studio.forms import (
    DraftForm,
    FieldIssues,
    action_bar,
    draft_compile_issues,
    draft_data_type,
    draft_preview,
    editor_title,
    project_state,
    queue_toast,
    show_toasts,
    used_by_text,
)
from studio.session import config_version, show_error, show_issues, validation_report

PLACEHOLDER_ID = "untitled_draft"  # checks a draft whose id is empty or invalid under this id


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
    delete: Callable[[str, str], str] | None  # writer: (root, id) -> file written; None: no Delete
    fields: Callable[[dict, FieldIssues], None]  # the form's own widgets
    preview: Callable[[Any, str, str, dict], None]  # renders a PreviewResult: (result, id, model_json, draft)
    preview_inputs: Callable[[str, dict], tuple] = lambda object_id, form: ()  # extra preview arguments
    badges: Callable[[dict], list[str]] = lambda form: []  # badges before New / Unsaved / Errors
    id_help: str = ""
    id_placeholder: str = ""
    file_help: str = ""
    unused_note: str = ""  # caption when nothing reads the saved object
    # The draft's issues in the project, when not the property/KPI checks: (check id, form, model JSON) -> issues
    check: Callable[[str, dict, str], list] | None = None
    # The preview panel's body, when not the property/KPI sample preview: (id, model JSON, form)
    preview_body: Callable[[str, str, dict], None] | None = None
    stacked: bool = False  # the preview under the form (wide forms), not beside it


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
        self.pending = f"{spec.prefix}_editor#pending"  # an action waiting for "discard the changes?"
        self.restored = f"{spec.prefix}_editor#restored"
        self.inferred: str | None = None  # the data type a property draft produces

    # -- names -----------------------------------------------------------------------
    def key(self, part: str) -> str:
        """A list, popover or preview widget key: ``key("list.jump")`` -> ``prop_list.jump``."""
        return f"{self.spec.prefix}_{part}"

    def saved(self) -> dict:
        return getattr(self.files, self.spec.collection)

    # -- the draft on disk and the discard guard ------------------------------------------
    def is_dirty(self, form: dict | None = None) -> bool:
        """Does the draft hold changes that are not saved?"""
        form = form if form is not None else self.draft.form
        if form is None:
            return False
        saved = self.saved().get(form["original_id"]) if form["original_id"] else None
        if saved is None:
            return bool(form["id"].strip() or form.get("touched"))
        model, _ = self.spec.from_form(form)
        return model != saved.model

    def guarded(self, action: tuple) -> bool:
        """True when ``action`` may run now; else it waits for the analyst to confirm that
        the unsaved changes go."""
        if not self.is_dirty():
            return True
        st.session_state[self.pending] = action
        return False

    def discard_and_continue(self) -> None:
        action = st.session_state.pop(self.pending, None)
        discard_draft(self.root, self.spec.prefix)
        self.draft.close()
        if action is None:
            return
        match action[0]:
            case "open":
                self.open(action[1], force=True)
            case "create":
                st.session_state[self.key("new.id")] = action[1]
                self.create(force=True)
            case _:
                self.close(force=True)

    def keep_editing(self) -> None:
        st.session_state.pop(self.pending, None)
        form = self.draft.form
        if form is not None and form["original_id"]:
            st.query_params[self.spec.query_param] = form["original_id"]
        else:
            st.query_params.pop(self.spec.query_param, None)

    def keep_on_disk(self, form: dict | None) -> None:
        """The draft survives reloads while it holds unsaved changes."""
        if form is not None and self.is_dirty(form):
            save_draft(self.root, self.spec.prefix, form)
        else:
            discard_draft(self.root, self.spec.prefix)

    # -- callbacks -------------------------------------------------------------------
    def open(self, object_id: str, force: bool = False) -> None:
        if not force and not self.guarded(("open", object_id)):
            return
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

    def create(self, force: bool = False) -> None:
        if not force and not self.guarded(("create", st.session_state.get(self.key("new.id")) or "")):
            return
        form = self.spec.new_form()
        form["id"] = (st.session_state.get(self.key("new.id")) or "").strip() or form["id"]
        self.draft.open(form)
        st.session_state.pop(self.confirm_delete, None)
        st.session_state.pop(self.save_problem, None)
        st.query_params.pop(self.spec.query_param, None)
        st.session_state[self.key("new.id")] = ""

    def close(self, force: bool = False) -> None:
        if not force and not self.guarded(("close",)):
            return
        discard_draft(self.root, self.spec.prefix)
        self.draft.close()
        st.session_state.pop(self.confirm_delete, None)
        st.query_params.pop(self.spec.query_param, None)

    def revert(self) -> None:
        discard_draft(self.root, self.spec.prefix)
        self.open(self.draft.form["original_id"], force=True)

    def check(self, form: dict) -> tuple[Any, list, str | None]:
        """(the draft's model or None, every issue of the draft at once, its model JSON).

        The form's own problems, the id's, the static rules' and the dry run's (compile
        errors, a data_type that truncates or changes values) come together: an empty id
        does not hide an unknown column, so the draft is checked under a placeholder id
        until its id is valid. A new property's data type follows what its definition
        produces until the analyst picks one."""
        spec = self.spec
        object_id = form["id"].strip()
        model, issues = spec.from_form(form)
        id_problems = forms.id_issues(spec.kind, form, set(self.saved()))
        check_id = object_id if not id_problems else PLACEHOLDER_ID
        self.inferred = None
        file = self.target_file(form)
        if model is not None and spec.kind == "property":
            self.inferred = draft_data_type(self.root, self.version, check_id, forms.model_json(model), file)
            untouched = "data_type" not in (form.get("touched") or [])
            if (self.inferred and untouched and not form["original_id"] and form.get("data_type") != self.inferred):
                form["data_type"] = self.inferred
                st.session_state[self.draft.key("data_type")] = self.inferred
                model, issues = spec.from_form(form)
        model_json = forms.model_json(model) if model is not None else None
        if model_json is not None:
            if spec.check is not None:
                found = spec.check(check_id, form, model_json)
            else:
                found = draft_compile_issues(self.root, self.version, spec.kind, check_id, model_json, file)
            issues += [dataclasses.replace(i, object_id=object_id) if i.object_id == check_id else i for i in found]
        return model, id_problems + issues, model_json

    def save(self) -> None:
        spec, form = self.spec, self.draft.form
        object_id = form["id"].strip()
        self.version = config_version(self.project)
        model, issues, _ = self.check(form)
        if model is None or any(i.is_error for i in issues):
            st.session_state[self.save_problem] = "Nothing was saved: fix the errors shown next to the fields first."
            return
        try:
            written = spec.save(self.root, object_id, model, None if form["original_id"] else self.target_file(form))
        except AsemicError as err:
            st.session_state[self.save_problem] = f"Nothing was saved: {err.message}"
            return
        discard_draft(self.root, spec.prefix)
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
        if form is None and (stored := load_draft(self.root, self.spec.prefix)) is not None:
            self.draft.open(stored)  # a reload, or a new session: the unsaved draft comes back
            st.session_state[self.restored] = True
            form = stored
        if wanted and wanted in self.saved() and (form is None or form["original_id"] != wanted):
            if form is not None and self.is_dirty(form):
                st.session_state[self.pending] = ("open", wanted)
            else:
                self.open(wanted, force=True)
        elif form is not None and form["original_id"] and not wanted:
            st.query_params[self.spec.query_param] = form["original_id"]  # the URL names what is edited
        if self.draft.form is None:
            render_list()
        else:
            self.render_editor(self.draft.form)
        self.keep_on_disk(self.draft.form)

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
        model, issues, model_json = self.check(form)
        issues, pending = forms.untouched_required(issues, form)
        field_issues = FieldIssues(issues, object_id)
        elsewhere = [i for i in issues if i.object_id not in (object_id, None) and i.is_error]
        valid = model_json is not None and not field_issues.has_errors() and not elsewhere
        dirty = saved is None or model != saved.model

        self.header(form, saved, dirty, field_issues.has_errors() or bool(elsewhere))
        self.discard_prompt(form, dirty)
        left, right = (st.container(), st.container()) if spec.stacked else st.columns([11, 9], gap="large")
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
                       on_revert=self.revert, on_delete=self.delete if spec.delete is not None else None)
        with right:
            why_not = "Fix the errors in the form to see a preview."
            if pending and not field_issues.has_errors() and not elsewhere:
                why_not = f"Fill in {FieldIssues.pending_text(pending)} to see a preview."
            preview_panel(self, object_id, model_json if valid else None, self.target_file(form), form, why_not)

    def discard_prompt(self, form: dict, dirty: bool) -> None:
        """The unsaved-changes notes: a draft restored from an earlier session, and the
        question before an action that would discard the changes."""
        name = form["id"].strip() or f"the new {self.spec.noun}"
        if st.session_state.pop(self.restored, False) and dirty:
            then = "or revert to the saved definition" if form["original_id"] else "or go back to discard them"
            st.info(f"Restored your unsaved changes to **{name}**: save them, {then}.", icon=":material/restore_page:")
        action = st.session_state.get(self.pending)
        if action is None:
            return
        if not dirty:
            st.session_state.pop(self.pending, None)
            return
        goal = {"open": f"open `{action[1]}`" if len(action) > 1 else "", "create": f"create a new {self.spec.noun}",
                "close": f"go back to all {self.spec.plural}"}[action[0]]
        with st.container(border=True, key=f"{self.draft.name}_discard_prompt"):
            st.warning(f"**{name}** has unsaved changes. Discard them to {goal}?", icon=":material/warning:")
            with st.container(horizontal=True):
                st.button("Discard changes", type="primary", icon=":material/delete_sweep:",
                          on_click=self.discard_and_continue, key=f"{self.draft.name}_discard")
                st.button("Keep editing", on_click=self.keep_editing, key=f"{self.draft.name}_keep")

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
            st.text_input("Id", value=form["id"], disabled=True, key=f"{self.draft.name}_id_ro.{form['id']}",
                          help=self.spec.id_help)
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
    if editor.spec.preview_body is not None:
        editor.spec.preview_body(object_id, model_json, form)
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
