"""Write config objects back to their YAML files, changing only what changed.

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
:class:`~asemic_core.errors.ConfigError` is raised. Writes are atomic (temporary file in
the same directory + ``os.replace``).
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from asemic_core.config import models as _models
from asemic_core.config.loader import (
    ASEMIC_FILE,
    ENTITY_DIR,
    ENTITY_FILE,
    EVENT_DIRS,
    LEGACY_ALIASES,
    YAML_SUFFIXES,
    _yaml_files,
)
from asemic_core.config.models import DeploymentConfig, EntityConfig, EventTable, Kpi, Property
from asemic_core.config.yaml_io import KeyPath, YamlDocument, _plain, parse_yaml, plain_scalar
from asemic_core.errors import ConfigError
from asemic_core.names import identifier_problem

__all__ = [
    "to_yaml_data",
    "edit_yaml_text",
    "save_object",
    "save_property",
    "save_kpi",
    "save_event",
    "save_entity_config",
    "save_deployment",
    "delete_property",
    "delete_kpi",
]

# ----------------------------------------------------------------------- model -> data


def to_yaml_data(model: BaseModel) -> dict[str, Any]:
    """Plain data of a config model, in the model's field order, canonical key names.

    Only fields the model was given are written (``exclude_unset``); a field set to
    ``None`` whose default is ``None`` is left out too (it means "absent"). Enums become
    their values, ``ValueRange.from_`` becomes ``from``; dates stay ``datetime.date``
    (YAML writes them as ISO dates).
    """
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        if name not in model.model_fields_set:
            continue
        value = getattr(model, name)
        if value is None and info.default is None:
            continue
        key = info.alias if (name.endswith("_") and info.alias) else name
        out[key] = _plain_value(value)
    return out


def _plain_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return to_yaml_data(value)
    if isinstance(value, enum.Enum):
        return _plain_value(value.value)
    if isinstance(value, dict):
        return {_plain_value(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    return plain_scalar(value)


# --------------------------------------------------------------------- equivalence

def _legacy_key_aliases() -> dict[str, tuple[str, ...]]:
    """canonical key -> legacy spellings, from the models' validation aliases."""
    found: dict[str, list[str]] = {key: list(aliases) for key, aliases in LEGACY_ALIASES.items()}
    for obj in vars(_models).values():
        if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
            continue
        for name, info in obj.model_fields.items():
            choices = info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else []
            for choice in choices:
                if isinstance(choice, str) and choice != name and choice not in found.setdefault(name, []):
                    found[name].append(choice)
    return {key: tuple(aliases) for key, aliases in found.items() if aliases}


_KEY_ALIASES = _legacy_key_aliases()
_CANONICAL_KEY = {alias: canonical for canonical, aliases in _KEY_ALIASES.items() for alias in aliases}
# Legacy tag names the models read as today's names (a tag list written with them is
# not "changed").
_TAG_ALIASES: dict[str, str] = {
    **getattr(_models, "_COLUMN_TAG_ALIASES", {}),
    **getattr(_models, "_TABLE_TAG_ALIASES", {}),
}
_MISSING = object()


def _equiv(old: Any, new: Any, loose: bool) -> bool:
    """Is the text value ``old`` (plain data) an acceptable spelling of ``new``?

    Strict: same types, same values. Loose: also the spellings the models read the same
    way (``null`` vs ``{}``, an absent key vs ``null``, ``select: 1`` vs ``"1"``, legacy
    key and tag names). Loose results are always re-checked against the model.
    """
    if not loose:
        return _strict_eq(old, new)
    if old is None and (new is None or new == {}):
        return True
    if new is None and old == {}:
        return True
    if isinstance(old, dict) and isinstance(new, dict):
        o = _canonical_keys(old)
        n = _canonical_keys(new)
        if o is None or n is None:
            return False
        for key in set(o) | set(n):
            a, b = o.get(key, _MISSING), n.get(key, _MISSING)
            if a is _MISSING or b is _MISSING:
                if (b if a is _MISSING else a) is None:
                    continue
                return False
            if not _equiv(a, b, True):
                return False
        return True
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_equiv(a, b, True) for a, b in zip(old, new))
    if isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
        return False
    if isinstance(new, str) and isinstance(old, (bool, int, float)):
        return _models._expression_text(old) == new
    if isinstance(old, str) and isinstance(new, str):
        return old == new or _TAG_ALIASES.get(old) == new
    if isinstance(old, str) and isinstance(new, dt.date) and not isinstance(new, dt.datetime):
        return old.strip() == new.isoformat()  # `date_from: '2024-01-01'`
    if isinstance(old, str) != isinstance(new, str):
        return False
    return type(old) is type(new) and old == new if isinstance(old, dt.date) else old == new


def _adapt(old: Any, new: Any, loose: bool) -> Any:
    """Give ``new`` the shape the file already uses when the models read both the same
    way: older files list event columns as ``- {id: x, data_type: ...}``."""
    if (
        loose
        and isinstance(old, list)
        and old
        and all(isinstance(item, dict) and "id" in item for item in old)
        and isinstance(new, dict)
        and all(isinstance(value, dict) and "id" not in value for value in new.values())
    ):
        return [{"id": key, **value} for key, value in new.items()]
    return new


def _canonical_keys(data: dict) -> dict | None:
    out: dict = {}
    for key, value in data.items():
        canon = _CANONICAL_KEY.get(key, key) if isinstance(key, str) else key
        if canon in out:
            return None
        out[canon] = value
    return out


def _strict_eq(old: Any, new: Any) -> bool:
    if type(old) is not type(new):
        return False
    if isinstance(old, dict):
        return old.keys() == new.keys() and all(_strict_eq(old[k], new[k]) for k in old)
    if isinstance(old, list):
        return len(old) == len(new) and all(_strict_eq(a, b) for a, b in zip(old, new))
    return bool(old == new)


def _match_key(mapping: Any, key: Any) -> Any:
    """The key of ``mapping`` that holds canonical ``key`` (itself or a legacy alias)."""
    if key in mapping:
        return key
    for alias in _KEY_ALIASES.get(key, ()) if isinstance(key, str) else ():
        if alias in mapping:
            return alias
    return None


# --------------------------------------------------------------- ruamel node editing


@dataclass
class _Style:
    mapping: int = 2
    offset: int = 2  # column of a sequence's "-" relative to its parent key

    def yaml(self) -> YAML:
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.allow_duplicate_keys = False
        yaml.width = 4096
        yaml.indent(mapping=self.mapping, sequence=self.offset + 2, offset=self.offset)
        return yaml


def _plain_node(node: Any) -> Any:
    return _plain(node, (), {})


def _literal_ok(text: str) -> bool:
    body = text.rstrip("\n")
    if "\n" not in body or text.endswith("\n\n"):
        return False
    if body[:1] in (" ", "\t") or "\r" in text:
        return False
    return all(line == line.rstrip() and (line.isprintable() or line == "") for line in body.split("\n"))


def _needs_escapes(text: str) -> bool:
    # Control characters are clearer as escapes, and ruamel 0.19 mangles U+0085 (NEL)
    # in plain and single-quoted scalars.
    return any(not ch.isprintable() and ch not in "\n\t" for ch in text)


def _to_node(value: Any, pretty: bool) -> Any:
    """Plain data -> ruamel nodes for newly written content (block style)."""
    if isinstance(value, dict):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = _to_node(item, pretty)
        return node
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq()
        for item in value:
            seq.append(_to_node(item, pretty))
        return seq
    if isinstance(value, str) and _needs_escapes(value):
        return DoubleQuotedScalarString(value)
    if isinstance(value, str) and pretty and _literal_ok(value):
        return LiteralScalarString(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return _plain_value(value)  # a fresh object: never dumped as an alias
    return value


_STYLED_STRINGS = (LiteralScalarString, FoldedScalarString, SingleQuotedScalarString, DoubleQuotedScalarString)


def _merge_value(old: Any, new: Any, ctx: _Ctx) -> Any:
    """Update the ruamel node ``old`` to hold ``new``, in place where possible."""
    old_plain = _plain_node(old)
    new = _adapt(old_plain, new, ctx.loose)
    if _equiv(old_plain, new, ctx.loose):
        return old
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        _merge_map(old, new, ctx)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        for index, item in enumerate(new):
            if index < len(old):
                merged = _merge_value(old[index], item, ctx)
                if merged is not old[index]:
                    old[index] = merged
            else:
                old.append(_to_node(item, ctx.pretty))
        while len(old) > len(new):
            del old[len(old) - 1]
        return old
    if ctx.pretty and isinstance(new, str) and isinstance(old, _STYLED_STRINGS) and not _needs_escapes(new):
        return type(old)(new)  # keep the quoting / block style the user chose
    return _to_node(new, ctx.pretty)


def _merge_map(node: CommentedMap, new: dict, ctx: _Ctx) -> None:
    used: set = set()
    previous: Any = _MISSING
    for key, value in new.items():
        existing = _match_key(node, key)
        if existing is not None:
            merged = _merge_value(node[existing], value, ctx)
            if merged is not node[existing]:
                node[existing] = merged
            used.add(existing)
            previous = existing
        else:
            if ctx.loose and value is None:
                continue
            keys = list(node.keys())
            position = keys.index(previous) + 1 if previous is not _MISSING else 0
            node.insert(position, key, _to_node(value, ctx.pretty))
            used.add(key)
            previous = key
    for key in list(node.keys()):
        if key not in used and not (ctx.loose and node[key] is None):
            del node[key]


# ---------------------------------------------------------------- text-level editing


class _NotSplittable(Exception):
    """The mapping is not laid out one block-style key per line: edit it as a whole."""


class _Unsafe(Exception):
    """This strategy cannot edit the text safely; try a coarser one."""


@dataclass
class _Ctx:
    lines: list[str]
    where: dict[KeyPath, int]
    loose: bool
    pretty: bool
    max_depth: int
    style: _Style
    yaml: YAML
    edits: list[tuple[int, int, int, list[str]]] = field(default_factory=list)

    def add(self, start: int, end: int, new_lines: list[str]) -> None:
        self.edits.append((start, end, len(self.edits), new_lines))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    return line.strip() == ""


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _trailer(line: str) -> bool:
    """Blank, comment or document-marker line: never part of an entry's own text."""
    return _blank(line) or _comment(line) or line.rstrip() in ("...", "---")


def _key_match(line: str, col: int, key: Any) -> re.Match | None:
    text = str(key)
    single = "'" + text.replace("'", "''") + "'"
    double = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    pattern = "(?:%s|%s|%s)[ \\t]*:(?:[ \\t]|$)" % (re.escape(single), re.escape(double), re.escape(text))
    return re.compile(pattern).match(line.rstrip("\n"), col)


def _inline_value(line: str, col: int, key: Any) -> bool:
    """Does the value of ``key`` start on its own key line (flow mapping, scalar...)?"""
    match = _key_match(line, col, key)
    if match is None:
        return True
    rest = line.rstrip("\n")[match.end():].strip()
    if rest.startswith("#"):
        return False
    tokens = rest.split(" #")[0].split()
    return any(not token.startswith(("&", "!")) for token in tokens)


def _detect_style(lines: list[str], where: dict[KeyPath, int]) -> _Style:
    maps: Counter[int] = Counter()
    seqs: Counter[int] = Counter()
    for path, line_no in where.items():
        if len(path) < 2:
            continue
        parent_no = where.get(path[:-1])
        if parent_no is None or line_no <= parent_no or line_no > len(lines):
            continue
        line, parent = lines[line_no - 1], lines[parent_no - 1]
        if parent.lstrip().startswith("-"):
            continue
        delta = _indent(line) - _indent(parent)
        if isinstance(path[-1], int):
            if line.lstrip().startswith("-") and delta >= 0:
                seqs[delta] += 1
        elif not line.lstrip().startswith("-") and delta > 0:
            maps[delta] += 1
    mapping = maps.most_common(1)[0][0] if maps else 2
    offset = seqs.most_common(1)[0][0] if seqs else 2
    return _Style(mapping=min(max(mapping, 2), 8), offset=min(offset, 8))


def _dump_lines(ctx: _Ctx, node: Any, col: int) -> list[str]:
    buffer = io.StringIO()
    ctx.yaml.dump(node, buffer)
    pad = " " * col
    return [pad + line if line.strip() else line for line in buffer.getvalue().splitlines(keepends=True)]


def _render_entry(ctx: _Ctx, key: Any, value: Any, col: int) -> list[str]:
    node = CommentedMap()
    node[key] = _to_node(value, ctx.pretty)
    return _dump_lines(ctx, node, col)


def _replace_region(ctx: _Ctx, new: Any, start: int, end: int, col: int) -> None:
    """Re-emit the region [start, end) holding one ``key: value`` entry at column ``col``."""
    text = "".join(line[min(col, _indent(line)):] for line in ctx.lines[start:end])
    try:
        node = ctx.yaml.load(io.StringIO(text))
    except YAMLError as err:
        raise _Unsafe(str(err)) from err
    if not isinstance(node, CommentedMap) or len(node) != 1:
        raise _Unsafe("region does not hold exactly one key")
    key = next(iter(node))
    merged = _merge_value(node[key], new, ctx)
    if merged is not node[key]:
        node[key] = merged
    ctx.add(start, end, _dump_lines(ctx, node, col))


def _replace_root(ctx: _Ctx, new_root: Any) -> None:
    """Re-emit the whole document, keeping its leading comments/directives verbatim."""
    lines = ctx.lines
    start = 0
    while start < len(lines) and (
        _blank(lines[start]) or _comment(lines[start]) or lines[start].startswith("%") or lines[start].rstrip() == "---"
    ):
        start += 1
    text = "".join(lines[start:])
    try:
        node = ctx.yaml.load(io.StringIO(text)) if text.strip() else None
    except YAMLError as err:
        raise _Unsafe(str(err)) from err
    if isinstance(node, CommentedMap) and isinstance(new_root, dict):
        _merge_map(node, new_root, ctx)
    else:
        node = _to_node(new_root, ctx.pretty)
    ctx.add(start, len(lines), _dump_lines(ctx, node, 0))


@dataclass
class _Entry:
    key: Any
    start: int  # key line (0-based)
    body_end: int  # end of the entry's own lines (trailing blank/comment lines excluded)
    next_start: int  # start of the next sibling (or end of the parent region)


def _diff_mapping(
    ctx: _Ctx, path: KeyPath, old: dict, new: dict, start: int, end: int, parent_line: int | None, parent_col: int,
) -> None:
    """Edit a block mapping key by key. Raises _NotSplittable before emitting any edit."""
    found: list[tuple[Any, int, int]] = []
    for key in old:
        line_no = ctx.where.get(path + (key,))
        if line_no is None:
            raise _NotSplittable
        index = line_no - 1
        if not start <= index < end or (parent_line is not None and index <= parent_line):
            raise _NotSplittable
        col = _indent(ctx.lines[index])
        if _key_match(ctx.lines[index], col, key) is None:
            raise _NotSplittable
        found.append((key, index, col))
    if not found or any(a[1] >= b[1] for a, b in zip(found, found[1:])):
        raise _NotSplittable
    cols = {item[2] for item in found}
    if len(cols) != 1:
        raise _NotSplittable
    col = cols.pop()
    if col <= parent_col:
        raise _NotSplittable

    entries: list[_Entry] = []
    for i, (key, index, _col) in enumerate(found):
        next_start = found[i + 1][1] if i + 1 < len(found) else end
        body_end = next_start
        while body_end > index + 1 and _trailer(ctx.lines[body_end - 1]):
            body_end -= 1
        entries.append(_Entry(key, index, body_end, next_start))
    by_key = {entry.key: entry for entry in entries}

    if len(entries) >= 2:
        gaps = [any(_blank(l) for l in ctx.lines[e.body_end:e.next_start]) for e in entries[:-1]]
        separated = sum(gaps) * 2 > len(gaps)  # most siblings have a blank line between them
    else:
        separated = len(path) == 1 and path[0] in ("properties", "kpis")

    used: set = set()
    previous: _Entry | None = None
    inserts: dict[int, list[str]] = {}
    for key, value in new.items():
        existing = _match_key(old, key)
        if existing is not None:
            entry = by_key[existing]
            used.add(existing)
            _diff_value(ctx, path + (existing,), existing, old[existing], value, entry, col)
            previous = entry
            continue
        if ctx.loose and value is None:
            continue
        block = _render_entry(ctx, key, value, col)
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
            if _blank(line):
                j += 1
            elif _comment(line) and _indent(line) > col:
                j += 1
                stop = j
            else:
                break
        deletions.append([entry.start, stop])
    merged: list[list[int]] = []
    for rng in deletions:
        if merged and all(_blank(l) for l in ctx.lines[merged[-1][1]:rng[0]]):
            merged[-1][1] = rng[1]
        else:
            merged.append(rng)
    lower = start if parent_line is None else parent_line + 1
    for s, e in merged:
        s2 = s
        while s2 > lower and _blank(ctx.lines[s2 - 1]):
            s2 -= 1
        if s2 < s:
            s = s2
        else:
            while e < end and _blank(ctx.lines[e]):
                e += 1
        ctx.add(s, e, [])
    for anchor, block in inserts.items():
        ctx.add(anchor, anchor, block)


def _diff_value(ctx: _Ctx, path: KeyPath, key: Any, old: Any, new: Any, entry: _Entry, col: int) -> None:
    new = _adapt(old, new, ctx.loose)
    if _equiv(old, new, ctx.loose):
        return
    splittable_new = isinstance(new, dict) and (bool(new) or ctx.loose)
    if (
        len(path) < ctx.max_depth
        and isinstance(old, dict)
        and old
        and splittable_new
        and not _inline_value(ctx.lines[entry.start], col, key)
    ):
        try:
            _diff_mapping(ctx, path, old, new, entry.start, entry.body_end, entry.start, col)
            return
        except _NotSplittable:
            pass
    _replace_region(ctx, new, entry.start, entry.body_end, col)


def _apply(lines: list[str], edits: list[tuple[int, int, int, list[str]]]) -> list[str]:
    ordered = sorted(edits)
    for a, b in zip(ordered, ordered[1:]):
        if b[0] < a[1]:
            raise _Unsafe("overlapping edits")
    out = list(lines)
    for start, end, _seq, new_lines in reversed(ordered):
        out[start:end] = new_lines
    return out


def _render(text: str, doc: YamlDocument, new_root: Any, loose: bool, pretty: bool, max_depth: int) -> str:
    lines = text.splitlines(keepends=True)
    style = _detect_style(lines, doc.lines)
    ctx = _Ctx(lines, doc.lines, loose, pretty, max_depth, style, style.yaml())
    old_root = doc.data
    if max_depth > 0 and isinstance(old_root, dict) and old_root and isinstance(new_root, dict) and new_root:
        try:
            _diff_mapping(ctx, (), old_root, new_root, 0, len(lines), None, -1)
        except _NotSplittable:
            _replace_root(ctx, new_root)
    elif not _equiv(old_root, new_root, loose):
        _replace_root(ctx, new_root)
    return "".join(_apply(lines, ctx.edits))


# -------------------------------------------------------------- document data helpers


def _get(data: Any, path: KeyPath) -> tuple[bool, Any]:
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


def _parse(text: str, rel_file: str) -> YamlDocument:
    doc, issues = parse_yaml(text, rel_file)
    if doc is None:
        detail = "; ".join(issue.format() for issue in issues) or "invalid YAML"
        raise ConfigError(f"cannot edit {rel_file}: the file does not parse ({detail})", issues)
    return doc


def _target(new: BaseModel | dict, model_type: type[BaseModel] | None) -> tuple[dict, BaseModel | None, type | None]:
    if isinstance(new, BaseModel):
        return to_yaml_data(new), new, type(new)
    data = _plain_value(new)
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
    found, sub = _get(doc.data, key_path)
    if delete:
        return not found
    if not found:
        return False
    if model is not None and model_type is not None:
        try:
            return model_type.model_validate(sub) == model
        except (ValidationError, TypeError, ValueError):
            return False
    return _strict_eq(sub, data)


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
    doc = _parse(work, rel_file)
    if delete:
        data, model, mtype = None, None, None
    else:
        if new is None:
            raise ConfigError(f"{rel_file}: nothing to save at {'.'.join(map(str, key_path)) or 'top level'}")
        data, model, mtype = _target(new, model_type)
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
        except (_Unsafe, YAMLError) as err:
            last_error = str(err)
            continue
        if _verify(candidate, rel_file, doc.data, key_path, data, delete, model, mtype, reuse=doc):
            if missing_eol and candidate.endswith("\n"):
                candidate = candidate[:-1]
            return candidate.replace("\n", "\r\n") if crlf else candidate
    what = ".".join(map(str, key_path)) or "the file"
    raise ConfigError(f"cannot write {what} into {rel_file} safely: {last_error}")


# ------------------------------------------------------------------------ file I/O


def _read(path: Path, rel_file: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"cannot edit {rel_file}: the file is not UTF-8 text ({err.reason})") from err
    except OSError as err:
        raise ConfigError(f"cannot read {rel_file}: {err.strerror}") from err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = (path.stat().st_mode & 0o7777) if path.exists() else (0o666 & ~_umask())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_object(
    root: Path | str,
    rel_file: str,
    key_path: KeyPath,
    new: BaseModel | dict | None,
    *,
    model_type: type[BaseModel] | None = None,
) -> bool:
    """Write one object (``new``; ``None`` deletes it) at ``key_path`` of ``rel_file``.

    Creates the file if needed. Returns whether the file was written: an object equal to
    what the file already holds (model equality for models) writes nothing.
    """
    path = Path(root) / rel_file
    text = _read(path, rel_file) if path.exists() else ""
    delete = new is None
    if not delete:
        doc = _parse(text.replace("\r\n", "\n"), rel_file)
        found, current = _get(doc.data, key_path)
        if found:
            _data, model, mtype = _target(new, model_type)
            if model is not None and mtype is not None:
                try:
                    if mtype.model_validate(current) == model:
                        return False
                except (ValidationError, TypeError, ValueError):
                    pass
            elif _strict_eq(current, _data):
                return False
    new_text = edit_yaml_text(text, rel_file, key_path, new, model_type=model_type, delete=delete)
    if new_text == text and path.exists():
        return False
    _atomic_write(path, new_text)
    return True


# ----------------------------------------------------------------- per-object helpers

_SAFE_FILE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _coerce(model: Any, cls: type[BaseModel]) -> BaseModel:
    if isinstance(model, cls):
        return model
    if isinstance(model, dict):
        try:
            return cls.model_validate(model)
        except ValidationError as err:
            raise ConfigError(f"invalid {cls.__name__}: {err}") from err
    raise TypeError(f"expected a {cls.__name__}, got {type(model).__name__}")


def _locate(root: Path, top_key: str, object_id: str) -> tuple[str, Any] | None:
    """The file (relative path) defining ``object_id`` under ``top_key:`` and the key as
    written (``123:`` is an int key), as the loader sees it (first file in path order).
    When the id is not found and some file of the directory does not parse, raise: the
    object might be defined there."""
    broken: list[ConfigError] = []
    for path in _yaml_files(root, root / ENTITY_DIR / top_key, recursive=True):
        rel = path.relative_to(root).as_posix()
        try:
            doc = _parse(_read(path, rel).replace("\r\n", "\n"), rel)
        except ConfigError as err:
            broken.append(err)
            continue
        data = doc.data
        if isinstance(data, dict) and isinstance(data.get(top_key), dict):
            for key in data[top_key]:
                if str(key) == object_id:
                    return rel, key
    if broken:
        raise broken[0]
    return None


def _collection_file(root: Path, top_key: str, file: str | os.PathLike) -> str:
    candidate = Path(file)
    if candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(root)
        except ValueError:
            raise ConfigError(f"{file} is not inside the project {root}") from None
    rel = candidate.as_posix()
    parts = candidate.parts
    if (
        len(parts) < 3
        or parts[0] != ENTITY_DIR
        or parts[1] != top_key
        or any(part in ("..", ".") or part.startswith(".") for part in parts)
        or candidate.suffix.lower() not in YAML_SUFFIXES
    ):
        raise ConfigError(f"{rel}: {top_key} must be saved in a .yml file under {ENTITY_DIR}/{top_key}/")
    return rel


def _save_in_collection(root: Path | str, top_key: str, object_id: str, model: Any, cls: type[BaseModel],
                        file: str | os.PathLike | None) -> str:
    root = Path(root).resolve()
    if not isinstance(object_id, str) or not object_id:
        raise ConfigError(f"invalid {top_key} id {object_id!r}")
    model = _coerce(model, cls)
    located = _locate(root, top_key, object_id)
    current, key = located if located is not None else (None, object_id)
    wanted = _collection_file(root, top_key, file) if file is not None else None
    if current is not None and (wanted is None or wanted == current):
        save_object(root, current, (top_key, key), model)
        return current
    if wanted is None:
        if not _SAFE_FILE_ID.match(object_id):
            raise ConfigError(f"cannot derive a file name from id {object_id!r}: pass file=")
        wanted = f"{ENTITY_DIR}/{top_key}/{object_id}.yml"
    save_object(root, wanted, (top_key, object_id), model)
    if current is not None:  # moved to another file
        save_object(root, current, (top_key, key), None)
    return wanted


def _delete_in_collection(root: Path | str, top_key: str, object_id: str, kind: str) -> str:
    root = Path(root).resolve()
    located = _locate(root, top_key, object_id)
    if located is None:
        raise ConfigError(f"{kind} {object_id!r} not found in {ENTITY_DIR}/{top_key}/")
    save_object(root, located[0], (top_key, located[1]), None)
    return located[0]


def save_property(root: Path | str, property_id: str, model: Property | dict,
                  file: str | os.PathLike | None = None) -> str:
    """Save a property where it is defined; a new one goes to ``file`` (default
    ``userentity/properties/<id>.yml``). Giving another ``file`` for an existing property
    moves it there. Returns the file (relative to the project)."""
    return _save_in_collection(root, "properties", property_id, model, Property, file)


def save_kpi(root: Path | str, kpi_id: str, model: Kpi | dict, file: str | os.PathLike | None = None) -> str:
    """As :func:`save_property`, for ``kpis:`` (default ``userentity/kpis/<id>.yml``)."""
    return _save_in_collection(root, "kpis", kpi_id, model, Kpi, file)


def delete_property(root: Path | str, property_id: str) -> str:
    """Remove a property from its file; returns that file. Unknown id -> ConfigError."""
    return _delete_in_collection(root, "properties", property_id, "property")


def delete_kpi(root: Path | str, kpi_id: str) -> str:
    """Remove a KPI from its file; returns that file. Unknown id -> ConfigError."""
    return _delete_in_collection(root, "kpis", kpi_id, "KPI")


def save_event(root: Path | str, event_id: str, model: EventTable | dict) -> str:
    """Save an event table into its file (``events/`` or ``actions/``), creating
    ``userentity/events/<id>.yml`` for a new one."""
    root = Path(root).resolve()
    if not isinstance(event_id, str) or identifier_problem(event_id):
        raise ConfigError(f"invalid event id {event_id!r}: use letters, digits and _")
    model = _coerce(model, EventTable)
    rel = f"{ENTITY_DIR}/events/{event_id}.yml"
    for dirname in EVENT_DIRS:
        matches = [p for p in _yaml_files(root, root / ENTITY_DIR / dirname, recursive=False) if p.stem == event_id]
        if matches:
            rel = matches[0].relative_to(root).as_posix()
            break
    save_object(root, rel, (), model)
    return rel


def save_entity_config(root: Path | str, model: EntityConfig | dict) -> str:
    """Save ``userentity/config.yml``."""
    save_object(Path(root).resolve(), ENTITY_FILE, (), _coerce(model, EntityConfig))
    return ENTITY_FILE


def save_deployment(root: Path | str, model: DeploymentConfig | dict) -> str:
    """Save ``asemic.yml``."""
    save_object(Path(root).resolve(), ASEMIC_FILE, (), _coerce(model, DeploymentConfig))
    return ASEMIC_FILE
