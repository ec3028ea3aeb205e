"""Minimal-diff editing of a YAML text: put one object in, change only what changed.

The analyst's files are the source of truth and are edited by hand too, so a save must
look like a careful human edit:

- saving an unchanged object writes nothing;
- editing one object changes only the lines of that object (comments, blank lines,
  quoting and flow style everywhere else are byte-identical);
- inside the object, only the changed fields are re-written: the text is diffed key by
  key against the file and the smallest block-style key region holding a change is
  re-emitted (with ruamel round-trip, so comments inside that region survive);
- legacy keys (``action_property``, ``source_action``...) stay as written;
- new objects and new keys are written in the model's canonical field order, block
  style, with the indentation the file already uses (default: 2, sequences ``  - ``).

Every result is re-parsed before it is written: the edited object must load back to the
requested model and every other object of the file to exactly the data it had. When a
fine-grained edit cannot guarantee that (exotic layouts: flow-style collections, anchors,
block scalars with trailing comment-like lines...), coarser strategies are tried, down to
a ruamel round-trip of the whole document; if none verifies, nothing is written and
:class:`~asemic_core.errors.ConfigError` is raised.

The file's layout (indentation, line shapes, ruamel nodes for a region) is read and
written by ``yaml_layout``; whether a written value already says what the model says by
``yaml_equivalence``; files are written by ``writer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml.error import YAMLError

from asemic_core.config.model_data import plain_value, to_yaml_data
from asemic_core.config.yaml_equivalence import adapt_to_written, equivalent, matching_key, strictly_equal
from asemic_core.config.yaml_io import KeyPath, YamlDocument, parse_yaml
from asemic_core.config.yaml_layout import (
    EditContext,
    NotSplittable,
    UnsafeEdit,
    detect_style,
    has_inline_value,
    indent_of,
    is_blank,
    is_comment,
    is_trailer,
    key_match,
    render_entry,
    replace_region,
    replace_root,
)
from asemic_core.errors import ConfigError


@dataclass
class _Entry:
    key: Any
    start: int  # key line (0-based)
    body_end: int  # end of the entry's own lines (trailing blank/comment lines excluded)
    next_start: int  # start of the next sibling (or end of the parent region)


def _diff_mapping(
    ctx: EditContext, path: KeyPath, old: dict, new: dict, start: int, end: int, parent_line: int | None, parent_col: int,
) -> None:
    """Edit a block mapping key by key. Raises NotSplittable before emitting any edit."""
    found: list[tuple[Any, int, int]] = []
    for key in old:
        line_no = ctx.where.get(path + (key,))
        if line_no is None:
            raise NotSplittable
        index = line_no - 1
        if not start <= index < end or (parent_line is not None and index <= parent_line):
            raise NotSplittable
        col = indent_of(ctx.lines[index])
        if key_match(ctx.lines[index], col, key) is None:
            raise NotSplittable
        found.append((key, index, col))
    if not found or any(a[1] >= b[1] for a, b in zip(found, found[1:])):
        raise NotSplittable
    cols = {item[2] for item in found}
    if len(cols) != 1:
        raise NotSplittable
    col = cols.pop()
    if col <= parent_col:
        raise NotSplittable

    entries: list[_Entry] = []
    for i, (key, index, _col) in enumerate(found):
        next_start = found[i + 1][1] if i + 1 < len(found) else end
        body_end = next_start
        while body_end > index + 1 and is_trailer(ctx.lines[body_end - 1]):
            body_end -= 1
        entries.append(_Entry(key, index, body_end, next_start))
    by_key = {entry.key: entry for entry in entries}

    if len(entries) >= 2:
        gaps = [any(is_blank(l) for l in ctx.lines[e.body_end:e.next_start]) for e in entries[:-1]]
        separated = sum(gaps) * 2 > len(gaps)  # most siblings have a blank line between them
    else:
        separated = len(path) == 1 and path[0] in ("properties", "kpis")

    used: set = set()
    previous: _Entry | None = None
    inserts: dict[int, list[str]] = {}
    for key, value in new.items():
        existing = matching_key(old, key)
        if existing is not None:
            entry = by_key[existing]
            used.add(existing)
            _diff_value(ctx, path + (existing,), existing, old[existing], value, entry, col)
            previous = entry
            continue
        if ctx.loose and value is None:
            continue
        block = render_entry(ctx, key, value, col)
        if previous is not None:
            inserts.setdefault(previous.body_end, []).extend((["\n"] if separated else []) + block)
        else:
            inserts.setdefault(entries[0].start, []).extend(block + (["\n"] if separated else []))

    deletions: list[list[int]] = []
    for entry in entries:
        if entry.key in used or (ctx.loose and old[entry.key] is None):
            continue
        stop = entry.body_end
        j = entry.body_end
        while j < entry.next_start:  # comments indented inside the deleted entry go with it
            line = ctx.lines[j]
            if is_blank(line):
                j += 1
            elif is_comment(line) and indent_of(line) > col:
                j += 1
                stop = j
            else:
                break
        deletions.append([entry.start, stop])
    merged: list[list[int]] = []
    for rng in deletions:
        if merged and all(is_blank(l) for l in ctx.lines[merged[-1][1]:rng[0]]):
            merged[-1][1] = rng[1]
        else:
            merged.append(rng)
    lower = start if parent_line is None else parent_line + 1
    for s, e in merged:
        s2 = s
        while s2 > lower and is_blank(ctx.lines[s2 - 1]):
            s2 -= 1
        if s2 < s:
            s = s2
        else:
            while e < end and is_blank(ctx.lines[e]):
                e += 1
        ctx.add(s, e, [])
    for anchor, block in inserts.items():
        ctx.add(anchor, anchor, block)


def _diff_value(ctx: EditContext, path: KeyPath, key: Any, old: Any, new: Any, entry: _Entry, col: int) -> None:
    new = adapt_to_written(old, new, ctx.loose)
    if equivalent(old, new, ctx.loose):
        return
    splittable_new = isinstance(new, dict) and (bool(new) or ctx.loose)
    if (
        len(path) < ctx.max_depth
        and isinstance(old, dict)
        and old
        and splittable_new
        and not has_inline_value(ctx.lines[entry.start], col, key)
    ):
        try:
            _diff_mapping(ctx, path, old, new, entry.start, entry.body_end, entry.start, col)
            return
        except NotSplittable:
            pass
    replace_region(ctx, new, entry.start, entry.body_end, col)


def _apply(lines: list[str], edits: list[tuple[int, int, int, list[str]]]) -> list[str]:
    ordered = sorted(edits)
    for a, b in zip(ordered, ordered[1:]):
        if b[0] < a[1]:
            raise UnsafeEdit("overlapping edits")
    out = list(lines)
    for start, end, _seq, new_lines in reversed(ordered):
        out[start:end] = new_lines
    return out


def _render(text: str, doc: YamlDocument, new_root: Any, loose: bool, pretty: bool, max_depth: int) -> str:
    lines = text.splitlines(keepends=True)
    style = detect_style(lines, doc.lines)
    ctx = EditContext(lines, doc.lines, loose, pretty, max_depth, style, style.yaml())
    old_root = doc.data
    if max_depth > 0 and isinstance(old_root, dict) and old_root and isinstance(new_root, dict) and new_root:
        try:
            _diff_mapping(ctx, (), old_root, new_root, 0, len(lines), None, -1)
        except NotSplittable:
            replace_root(ctx, new_root)
    elif not equivalent(old_root, new_root, loose):
        replace_root(ctx, new_root)
    return "".join(_apply(lines, ctx.edits))


# -------------------------------------------------------------- document data helpers


def get_at(data: Any, path: KeyPath) -> tuple[bool, Any]:
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _with_object(data: Any, path: KeyPath, new: Any, delete: bool, rel_file: str) -> Any:
    if not path:
        return new
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{rel_file}: expected a mapping at the top of the file")
    root = dict(data)
    node = root
    for key in path[:-1]:
        child = node.get(key)
        if child is None:
            child = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"{rel_file}: '{key}' must be a mapping")
        else:
            child = dict(child)
        node[key] = child
        node = child
    if delete:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = new
    return root


def _without(data: Any, path: KeyPath) -> Any:
    """``data`` minus the object at ``path``; containers left empty (or null) drop out."""
    if not path:
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return data
    out = dict(data)
    key = path[0]
    if len(path) == 1:
        out.pop(key, None)
        return out
    if key in out:
        inner = _without(out[key], path[1:])
        if inner is None or inner == {}:
            out.pop(key)
        else:
            out[key] = inner
    return out


def parse_document(text: str, rel_file: str) -> YamlDocument:
    doc, issues = parse_yaml(text, rel_file)
    if doc is None:
        detail = "; ".join(issue.format() for issue in issues) or "invalid YAML"
        raise ConfigError(f"cannot edit {rel_file}: the file does not parse ({detail})", issues)
    return doc


def target_data(new: BaseModel | dict, model_type: type[BaseModel] | None) -> tuple[dict, BaseModel | None, type | None]:
    if isinstance(new, BaseModel):
        return to_yaml_data(new), new, type(new)
    data = plain_value(new)
    if model_type is not None:
        try:
            return data, model_type.model_validate(data), model_type
        except ValidationError as err:
            raise ConfigError(f"invalid {model_type.__name__}: {err}") from err
    return data, None, None


def _verify(
    candidate: str, rel_file: str, old_data: Any, key_path: KeyPath, data: Any, delete: bool,
    model: BaseModel | None, model_type: type | None, reuse: YamlDocument | None = None,
) -> bool:
    doc = reuse if reuse is not None and reuse.text == candidate else parse_yaml(candidate, rel_file)[0]
    if doc is None:
        return False
    if key_path and _without(doc.data, key_path) != _without(old_data, key_path):
        return False
    found, sub = get_at(doc.data, key_path)
    if delete:
        return not found
    if not found:
        return False
    if model is not None and model_type is not None:
        try:
            return model_type.model_validate(sub) == model
        except (ValidationError, TypeError, ValueError):
            return False
    return strictly_equal(sub, data)


def edit_yaml_text(
    text: str,
    rel_file: str,
    key_path: KeyPath,
    new: BaseModel | dict | None,
    *,
    model_type: type[BaseModel] | None = None,
    delete: bool = False,
) -> str:
    """The text of ``rel_file`` after putting ``new`` at ``key_path`` (or deleting it).

    Pure function (no I/O), handy for previews and diffs. ``key_path`` is ``()`` for a
    whole-file object or ``("properties", id)`` / ``("kpis", id)``. ``new`` is a config
    model (checked by model equality after the edit) or plain data (checked exactly).
    Saving an object equal to what is written returns ``text`` unchanged.
    """
    crlf = "\r\n" in text
    work = text.replace("\r\n", "\n") if crlf else text
    missing_eol = bool(work) and not work.endswith("\n")
    if missing_eol:
        work += "\n"
    doc = parse_document(work, rel_file)
    if delete:
        data, model, mtype = None, None, None
    else:
        if new is None:
            raise ConfigError(f"{rel_file}: nothing to save at {'.'.join(map(str, key_path)) or 'top level'}")
        data, model, mtype = target_data(new, model_type)
    new_root = _with_object(doc.data, key_path, data, delete, rel_file)

    attempts: list[tuple[bool, bool, int]] = []
    for depth in (10**6, len(key_path), 0):
        for loose, pretty in ((True, True), (False, True), (False, False)):
            if loose and model is None and not delete:
                continue
            if (loose, pretty, depth) not in attempts:
                attempts.append((loose, pretty, depth))
    last_error = "the edited file did not load back to the saved object"
    for loose, pretty, depth in attempts:
        try:
            candidate = _render(work, doc, new_root, loose, pretty, depth)
        except (UnsafeEdit, YAMLError) as err:
            last_error = str(err)
            continue
        if _verify(candidate, rel_file, doc.data, key_path, data, delete, model, mtype, reuse=doc):
            if missing_eol and candidate.endswith("\n"):
                candidate = candidate[:-1]
            return candidate.replace("\n", "\r\n") if crlf else candidate
    what = ".".join(map(str, key_path)) or "the file"
    raise ConfigError(f"cannot write {what} into {rel_file} safely: {last_error}")
