"""Helpers for the AppTest tests of the editors (importable: tests/app is on sys.path):
finding widgets and the errors shown next to them, creating and opening objects."""

from __future__ import annotations

from streamlit.testing.v1.element_tree import Error

PREFIXES = {"property": "prop", "kpi": "kpi"}


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def block_of(app, key: str):
    """The block that holds the widget ``key`` (its neighbours are shown next to it)."""
    for node in _walk(app._tree):
        if any(getattr(child, "key", None) == key for child in getattr(node, "children", {}).values()):
            return node
    raise AssertionError(f"no widget {key!r} on the page")


def errors_in(node) -> list[str]:
    return [n.value for n in _walk(node) if isinstance(n, Error)]


def submit(app, form_id: str):
    button = next(b for b in app.get("form_submit_button") if b.form_id == form_id)
    return button.click().run()


def create(app, prefix: str, object_id: str, kind: str | None = None):
    """A new object through the editor's "New" popover (``prefix``: "prop" or "kpi")."""
    app.text_input(key=f"{prefix}_new.id").input(object_id)
    if kind:
        app.selectbox(key=f"{prefix}_new.kind").select(kind)
    submit(app, f"{prefix}_new")
    assert not app.exception, app.exception
    return app


def open_object(app, prefix: str, object_id: str):
    """A saved object through the list's "Open" box."""
    app.selectbox(key=f"{prefix}_list.jump").select(object_id).run()
    assert not app.exception, app.exception
    return app
