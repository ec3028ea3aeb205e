"""Streamlit helpers of the Properties and KPIs editors.

- :class:`DraftForm`: one editor's draft (a plain dict from ``asemic_core.editing.forms``)
  kept in ``st.session_state``, and widgets bound to its fields. The draft is the truth:
  a widget is seeded from it, and its ``on_change`` callback writes the new value back.
- :class:`FieldIssues`: issues shown next to the field that causes them, with whatever
  no field claimed shown in one place.
- Cached verbs keyed on plain values: the project's files and resolution per config
  version, a draft's issues, a draft's preview.
- Toasts queued in callbacks, shown at the next run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import streamlit as st

from studio.session import field_errors, model_source, render_field_errors
from asemic_core.config.models import Kpi, Property
from asemic_core.issues import Issue
from asemic_core.project import Project

_MISSING = object()

# ------------------------------------------------------------------------ the draft


def _get(data: dict, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(data: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def apply_editor_delta(base: list[dict], delta: dict | None, columns: tuple[str, ...]) -> list[dict]:
    """The rows of an ``st.data_editor`` after its edits (the widget's state is the
    cumulative change against the rows it was given)."""
    rows = [dict(row) for row in base]
    delta = delta or {}
    for index, changes in (delta.get("edited_rows") or {}).items():
        position = int(index)
        if position < len(rows):
            rows[position].update(changes)
    deleted = {int(i) for i in delta.get("deleted_rows") or []}
    rows = [row for position, row in enumerate(rows) if position not in deleted]
    for added in delta.get("added_rows") or []:
        rows.append({column: added.get(column) for column in columns})
    return [{column: ("" if row.get(column) is None else row.get(column)) for column in columns} for row in rows]


class DraftForm:
    """The draft of one editor (``st.session_state[name]``) and its bound widgets
    (keys ``"<name>.<path>"``, e.g. ``prop_editor.event.select``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    # -- the draft -------------------------------------------------------------
    @property
    def form(self) -> dict | None:
        return st.session_state.get(self.name)

    def open(self, form: dict) -> None:
        """Start editing ``form`` (widgets forget what they showed before)."""
        self._forget_widgets()
        st.session_state[self.name] = form
        st.session_state[f"{self.name}#rev"] = st.session_state.get(f"{self.name}#rev", 0) + 1

    def close(self) -> None:
        self._forget_widgets()
        st.session_state.pop(self.name, None)

    def _forget_widgets(self) -> None:
        prefix = f"{self.name}."
        for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix)]:
            del st.session_state[key]

    def key(self, path: str) -> str:
        return f"{self.name}.{path}"

    def get(self, path: str) -> Any:
        return _get(self.form or {}, path)

    def set(self, path: str, value: Any) -> None:
        """Change a field from a callback (the widget shows the new value)."""
        _set(self.form, path, value)
        st.session_state[self.key(path)] = value
        touched = self.form.setdefault("touched", [])
        if path not in touched:
            touched.append(path)

    def append(self, path: str, text: str) -> None:
        """Insert ``text`` at the end of a text field (the helpers' "insert"), spaced
        like a person would type it: ``SAFE_DIVIDE(SUM(a), SUM(b)) * 100``."""
        current = (self.get(path) or "").rstrip()
        text = text.strip()
        joiner = "" if not current or current.endswith("(") or text.startswith((",", ")")) else " "
        self.set(path, f"{current}{joiner}{text}")

    # -- bound widgets ---------------------------------------------------------------
    def _bind(self, path: str, on_change: Callable[[], None] | None = None) -> dict:
        key = self.key(path)
        if key not in st.session_state:
            st.session_state[key] = self.get(path)

        def changed() -> None:
            _set(self.form, path, st.session_state[key])
            touched = self.form.setdefault("touched", [])
            if path not in touched:
                touched.append(path)
            if on_change is not None:
                on_change()

        return {"key": key, "on_change": changed}

    def text_input(self, label: str, path: str, *, on_change=None, **kwargs) -> str:
        if self.get(path) is None:
            _set(self.form, path, "")
        return st.text_input(label, **self._bind(path, on_change), **kwargs)

    def text_area(self, label: str, path: str, *, on_change=None, **kwargs) -> str:
        if self.get(path) is None:
            _set(self.form, path, "")
        return st.text_area(label, **self._bind(path, on_change), **kwargs)

    def selectbox(self, label: str, path: str, options: list, *, on_change=None, **kwargs) -> Any:
        current = self.get(path)
        if current is not None and current not in options:
            options = [current, *options]  # keep what the file says, even if no longer offered
        return st.selectbox(label, options, **self._bind(path, on_change), **kwargs)

    def number_input(self, label: str, path: str, *, on_change=None, **kwargs) -> Any:
        return st.number_input(label, **self._bind(path, on_change), **kwargs)

    def date_input(self, label: str, path: str, *, on_change=None, **kwargs) -> dt.date | None:
        return st.date_input(label, **self._bind(path, on_change), **kwargs)

    def multiselect(self, label: str, path: str, options: list, *, on_change=None, **kwargs) -> list:
        current = list(self.get(path) or [])
        options = list(options) + [v for v in current if v not in options]
        return st.multiselect(label, options, **self._bind(path, on_change), **kwargs)

    def toggle(self, label: str, path: str, *, on_change=None, **kwargs) -> bool:
        return st.toggle(label, **self._bind(path, on_change), **kwargs)

    def checkbox(self, label: str, path: str, *, on_change=None, **kwargs) -> bool:
        return st.checkbox(label, **self._bind(path, on_change), **kwargs)

    def segmented_control(self, label: str, path: str, options: list, *, on_change=None, **kwargs) -> Any:
        return st.segmented_control(label, options, **self._bind(path, on_change), **kwargs)

    def inserter(self, label: str, target: str, options: list, render: Callable[[Any], str], *,
                 name: str | None = None, **kwargs) -> None:
        """A selectbox that inserts ``render(choice)`` into the text field ``target``
        when a choice is made, then clears itself (type to search, Enter to insert)."""
        key = self.key(f"_insert.{name or target}")

        def insert() -> None:
            choice = st.session_state.get(key)
            if choice is not None:
                self.append(target, render(choice))
                st.session_state[key] = None

        st.selectbox(label, options, index=None, key=key, on_change=insert, **kwargs)

    def snippets(self, label: str, target: str, snippets: dict[str, str], **kwargs) -> None:
        """Pills that insert a snippet into ``target`` (labels -> text)."""
        key = self.key(f"_snippets.{target}")

        def insert() -> None:
            choice = st.session_state.get(key)
            if choice is not None:
                self.append(target, snippets[choice])
                st.session_state[key] = None

        st.pills(label, list(snippets), key=key, on_change=insert, **kwargs)

    def rows_editor(self, path: str, columns: tuple[str, ...], **kwargs) -> None:
        """An ``st.data_editor`` over a list of row dicts in the draft."""
        rev = st.session_state.get(f"{self.name}#rev", 0)
        key = self.key(f"{path}#{rev}")
        base_key = f"{self.name}#base.{path}"
        if key not in st.session_state or base_key not in st.session_state:
            st.session_state[base_key] = [dict(r) for r in (self.get(path) or [])]
        base = st.session_state[base_key]

        def changed() -> None:
            _set(self.form, path, apply_editor_delta(base, st.session_state.get(key), columns))

        data = pl.DataFrame({column: [str(row.get(column) or "") for row in base] for column in columns},
                            schema={column: pl.String for column in columns})
        st.data_editor(data, key=key, on_change=changed, num_rows="dynamic", hide_index=True, **kwargs)


# ------------------------------------------------------------------------ issues


class FieldIssues:
    """Issues of one object, shown next to the fields (dotted paths) they name."""

    def __init__(self, issues: list[Issue], object_id: str) -> None:
        self.errors = field_errors(issues, object_id)
        self.warnings: dict[str, list[str]] = {}
        for issue in issues:
            if issue.object_id == object_id and not issue.is_error:
                self.warnings.setdefault(issue.field or "", []).append(issue.message)
        self.claimed: set[str] = set()

    def _matching(self, table: dict[str, list[str]], prefixes: tuple[str, ...], exact: bool) -> list[str]:
        found = []
        for field, messages in table.items():
            if any(field == p or (not exact and field.startswith(p + ".")) for p in prefixes):
                found += messages
                self.claimed.add(field)
        return found

    def show(self, *prefixes: str, exact: bool = False) -> None:
        """Errors (and warnings) of these fields, right here."""
        if exact:
            for message in self._matching(self.errors, prefixes, exact=True):
                st.error(message, icon=":material/error:")
        else:
            self._matching(self.errors, prefixes, exact=False)
            render_field_errors(self.errors, *prefixes)
        for message in self._matching(self.warnings, prefixes, exact):
            st.warning(message, icon=":material/warning:")

    @staticmethod
    def pending_text(pending: list[Issue]) -> str:
        """ "the source event and the select": the fields still to fill in."""
        names = [n for n in dict.fromkeys((i.field or "").rsplit(".", 1)[-1].replace("_", " ") for i in pending) if n]
        names = [f"the {n}" for n in names]
        return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)

    def has_errors(self) -> bool:
        return bool(self.errors)

    def unclaimed(self) -> list[tuple[str, str, bool]]:
        """(field, message, is_error) of the issues no field showed."""
        out = [(f, m, True) for f, ms in self.errors.items() if f not in self.claimed for m in ms]
        out += [(f, m, False) for f, ms in self.warnings.items() if f not in self.claimed for m in ms]
        return out

    def show_unclaimed(self, where) -> None:
        with where:
            for field, message, is_error in self.unclaimed():
                text = f"**{field}**: {message}" if field else message
                if is_error:
                    st.error(text, icon=":material/error:")
                else:
                    st.warning(text, icon=":material/warning:")


# ---------------------------------------------------------------- shared editor parts


def editor_title(title: str, badges: list[str]) -> None:
    """The editor's heading with its badges (``:orange-badge[Unsaved changes]``...)."""
    st.subheader(f"{title} &nbsp;{' '.join(badges)}", anchor=False)


def used_by_text(users: list[str], limit: int = 8) -> str:
    """"`a`, `b` …" of graph nodes ``property:a``, ``kpi:b``."""
    names = [f"`{u.split(':', 1)[1]}`" for u in users]
    return ", ".join(names[:limit]) + (" …" if len(names) > limit else "")


def action_bar(editor: DraftForm, noun: str, *, saved_id: str | None, saved_file: str | None, users: list[str],
               valid: bool, dirty: bool, to_fill: str, on_save, on_revert, on_delete) -> None:
    """Save (Ctrl+Enter), Revert and Delete-with-confirmation of one editor. Keys:
    ``<name>_save``, ``<name>_revert``, ``<name>_delete``, ``<name>_confirm_delete``."""
    name = editor.name
    problem = st.session_state.get(f"{name}#save_problem")
    if problem:
        st.error(problem, icon=":material/block:")
    if to_fill:
        st.caption(f":material/edit_note: Still to fill in: {to_fill}.")
    confirm = f"{name}#confirm_delete"
    with st.container(horizontal=True):
        st.button("Save", icon=":material/save:", type="primary", on_click=on_save, disabled=not (valid and dirty),
                  key=f"{name}_save", shortcut="Ctrl+Enter",
                  help=f"Write the {noun} to its YAML file (Ctrl+Enter)." if valid else "Fix the errors first.")
        if saved_id is not None:
            st.button("Revert", icon=":material/undo:", on_click=on_revert, disabled=not dirty, key=f"{name}_revert",
                      help="Back to the saved definition.")
            if on_delete is not None:
                st.button("Delete", icon=":material/delete:", key=f"{name}_delete",
                          on_click=lambda: st.session_state.update({confirm: True}))
    if saved_id is not None and st.session_state.get(confirm):
        warning = f"Delete **{saved_id}** from `{saved_file}`?"
        if users:
            warning += f" It is used by {used_by_text(users, limit=len(users))}, which will stop validating."
        with st.container(border=True):
            st.warning(warning, icon=":material/warning:")
            with st.container(horizontal=True):
                st.button("Delete permanently", type="primary", on_click=on_delete, key=f"{name}_confirm_delete")
                st.button("Cancel", key=f"{name}_cancel_delete", on_click=lambda: st.session_state.pop(confirm, None))


# ------------------------------------------------------------------------- toasts


def queue_toast(message: str, icon: str = ":material/check_circle:") -> None:
    st.session_state.setdefault("_editor_toasts", []).append((message, icon))


def show_toasts() -> None:
    for message, icon in st.session_state.pop("_editor_toasts", []):
        st.toast(message, icon=icon)


# ------------------------------------------------------------------- cached verbs


@st.cache_resource(show_spinner=False, max_entries=4)
def project_state(root: str, version: str):
    """The files as written and their resolution, for one config version (read-only)."""
    project = Project(root)
    files = project.files()
    from asemic_core.semantic.resolve import resolve

    return files, resolve(files)


def _model(kind: str, model_json: str):
    return (Property if kind == "property" else Kpi).model_validate_json(model_json)


@st.cache_data(show_spinner=False, max_entries=64)
def draft_issues(root: str, version: str, kind: str, object_id: str, model_json: str, file: str | None) -> list[Issue]:
    """Validation issues of a draft in the project (and those it causes elsewhere)."""
    from asemic_core.query.draft_preview import Draft
    from asemic_core.query.draft_preview import draft_issues as issues_of

    files, _ = project_state(root, version)
    return issues_of(files, Draft(kind, object_id, _model(kind, model_json), file))


def _engine(project: Project, files):
    """The engine settings drafts are compiled with (Spark on a Spark project)."""
    return project.engine_settings(files) if files.deployment is not None else None


@st.cache_data(show_spinner=False, max_entries=64)
def draft_compile_issues(root: str, version: str, kind: str, object_id: str, model_json: str,
                         file: str | None) -> list[Issue]:
    """A draft's static issues and what the dry run finds with it in the project (compile
    errors, a data_type that does not hold the values): all of them at once."""
    from asemic_core.query.draft_check import draft_dry_run
    from asemic_core.query.draft_preview import Draft

    static = draft_issues(root, version, kind, object_id, model_json, file)
    files, _ = project_state(root, version)
    draft = Draft(kind, object_id, _model(kind, model_json), file)
    project = Project(root)
    found = draft_dry_run(files, project.warehouse_path(files), draft, static, _engine(project, files))
    return list(dict.fromkeys(static + found))


@st.cache_data(show_spinner=False, max_entries=64)
def draft_data_type(root: str, version: str, object_id: str, model_json: str, file: str | None) -> str | None:
    """The data type a property draft's definition produces (None when unknown)."""
    from asemic_core.query.draft_check import produced_data_type
    from asemic_core.query.draft_preview import Draft

    files, _ = project_state(root, version)
    project = Project(root)
    produced = produced_data_type(files, project.warehouse_path(files),
                                  Draft("property", object_id, _model("property", model_json), file),
                                  _engine(project, files))
    return produced.value if produced is not None else None


@st.cache_data(show_spinner="Computing the preview on a sample of users...", max_entries=32)
def draft_preview(root: str, version: str, kind: str, object_id: str, model_json: str, file: str | None,
                  sample_users: int, days: int, template_value: str | None = None):
    """The preview of a draft (``PreviewResult``) on a sample, next to the saved definition."""
    from asemic_core.editing.preview_shaping import run_preview
    from asemic_core.query.draft_preview import Draft

    draft = Draft(kind, object_id, _model(kind, model_json), file)
    return run_preview(Project(root), draft, sample_users, days, model_source(root, version), template_value)
