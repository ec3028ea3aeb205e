"""The layout of a YAML text as the minimal-diff editor sees it: the file's indentation
style, line shapes (keys, comments, trailers), ruamel nodes for new values, and the
edit context that collects replaced line regions."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from asemic_core.config.model_data import plain_value
from asemic_core.config.yaml_equivalence import MISSING, adapt_to_written, equivalent, matching_key
from asemic_core.config.yaml_io import KeyPath, _plain


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
        return plain_value(value)  # a fresh object: never dumped as an alias
    return value


_STYLED_STRINGS = (LiteralScalarString, FoldedScalarString, SingleQuotedScalarString, DoubleQuotedScalarString)


def _merge_value(old: Any, new: Any, ctx: EditContext) -> Any:
    """Update the ruamel node ``old`` to hold ``new``, in place where possible."""
    old_plain = _plain_node(old)
    new = adapt_to_written(old_plain, new, ctx.loose)
    if equivalent(old_plain, new, ctx.loose):
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


def _merge_map(node: CommentedMap, new: dict, ctx: EditContext) -> None:
    used: set = set()
    previous: Any = MISSING
    for key, value in new.items():
        existing = matching_key(node, key)
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
            position = keys.index(previous) + 1 if previous is not MISSING else 0
            node.insert(position, key, _to_node(value, ctx.pretty))
            used.add(key)
            previous = key
    for key in list(node.keys()):
        if key not in used and not (ctx.loose and node[key] is None):
            del node[key]


# ---------------------------------------------------------------- text-level editing


class NotSplittable(Exception):
    """The mapping is not laid out one block-style key per line: edit it as a whole."""


class UnsafeEdit(Exception):
    """This strategy cannot edit the text safely; try a coarser one."""


@dataclass
class EditContext:
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


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def is_blank(line: str) -> bool:
    return line.strip() == ""


def is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def is_trailer(line: str) -> bool:
    """Blank, comment or document-marker line: never part of an entry's own text."""
    return is_blank(line) or is_comment(line) or line.rstrip() in ("...", "---")


def key_match(line: str, col: int, key: Any) -> re.Match | None:
    text = str(key)
    single = "'" + text.replace("'", "''") + "'"
    double = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    pattern = "(?:%s|%s|%s)[ \\t]*:(?:[ \\t]|$)" % (re.escape(single), re.escape(double), re.escape(text))
    return re.compile(pattern).match(line.rstrip("\n"), col)


def has_inline_value(line: str, col: int, key: Any) -> bool:
    """Does the value of ``key`` start on its own key line (flow mapping, scalar...)?"""
    match = key_match(line, col, key)
    if match is None:
        return True
    rest = line.rstrip("\n")[match.end():].strip()
    if rest.startswith("#"):
        return False
    tokens = rest.split(" #")[0].split()
    return any(not token.startswith(("&", "!")) for token in tokens)


def detect_style(lines: list[str], where: dict[KeyPath, int]) -> _Style:
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
        delta = indent_of(line) - indent_of(parent)
        if isinstance(path[-1], int):
            if line.lstrip().startswith("-") and delta >= 0:
                seqs[delta] += 1
        elif not line.lstrip().startswith("-") and delta > 0:
            maps[delta] += 1
    mapping = maps.most_common(1)[0][0] if maps else 2
    offset = seqs.most_common(1)[0][0] if seqs else 2
    return _Style(mapping=min(max(mapping, 2), 8), offset=min(offset, 8))


def _dump_lines(ctx: EditContext, node: Any, col: int) -> list[str]:
    buffer = io.StringIO()
    ctx.yaml.dump(node, buffer)
    pad = " " * col
    return [pad + line if line.strip() else line for line in buffer.getvalue().splitlines(keepends=True)]


def render_entry(ctx: EditContext, key: Any, value: Any, col: int) -> list[str]:
    node = CommentedMap()
    node[key] = _to_node(value, ctx.pretty)
    return _dump_lines(ctx, node, col)


def replace_region(ctx: EditContext, new: Any, start: int, end: int, col: int) -> None:
    """Re-emit the region [start, end) holding one ``key: value`` entry at column ``col``."""
    text = "".join(line[min(col, indent_of(line)):] for line in ctx.lines[start:end])
    try:
        node = ctx.yaml.load(io.StringIO(text))
    except YAMLError as err:
        raise UnsafeEdit(str(err)) from err
    if not isinstance(node, CommentedMap) or len(node) != 1:
        raise UnsafeEdit("region does not hold exactly one key")
    key = next(iter(node))
    merged = _merge_value(node[key], new, ctx)
    if merged is not node[key]:
        node[key] = merged
    ctx.add(start, end, _dump_lines(ctx, node, col))


def replace_root(ctx: EditContext, new_root: Any) -> None:
    """Re-emit the whole document, keeping its leading comments/directives verbatim."""
    lines = ctx.lines
    start = 0
    while start < len(lines) and (
        is_blank(lines[start]) or is_comment(lines[start]) or lines[start].startswith("%") or lines[start].rstrip() == "---"
    ):
        start += 1
    text = "".join(lines[start:])
    try:
        node = ctx.yaml.load(io.StringIO(text)) if text.strip() else None
    except YAMLError as err:
        raise UnsafeEdit(str(err)) from err
    if isinstance(node, CommentedMap) and isinstance(new_root, dict):
        _merge_map(node, new_root, ctx)
    else:
        node = _to_node(new_root, ctx.pretty)
    ctx.add(start, len(lines), _dump_lines(ctx, node, 0))
