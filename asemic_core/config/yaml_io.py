"""Line-aware YAML reading.

Every mapping key and sequence item keeps the line it was written on, so that any
problem found later (by pydantic or by a validation rule) can name ``file:line``.
Duplicate keys are refused, naming both lines.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from asemic_core.config import yaml_fast
from asemic_core.issues import Issue

KeyPath = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """A parsed YAML file: plain Python data plus the line of every key/item."""

    rel_path: str
    text: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int | None:
        """Line of the closest known ancestor of ``path`` (1-based)."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps an impossible date such as ``2025-02-30`` as its
    text: ruamel raises a bare ValueError for it (no line, and the whole file would fail);
    as text, the field it belongs to reports it as an invalid date on its own line."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return str(node.value)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def _rt_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml


_NOT_FAST = object()


def _fast_load(text: str) -> Any:
    """The document as ruamel loads it, composed by libyaml (config/yaml_fast.py), or
    ``_NOT_FAST`` when ruamel must parse it (and report its problems) itself."""
    yaml = _rt_yaml()
    root = yaml_fast.compose(text, yaml.resolver, MAX_DEPTH)
    if root is None:
        return _NOT_FAST
    if root is yaml_fast.EMPTY:
        return None
    try:
        return yaml.constructor.construct_document(root)
    except Exception:  # e.g. a duplicate key: ruamel's own message names both lines
        return _NOT_FAST


# Bounds on one config file: a 20-line file of nested aliases ("billion laughs") would
# otherwise expand into billions of values; each limit is far above any real config.
MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000  # values after aliases are expanded
MAX_DEPTH = 64  # nesting of mappings and sequences


class YamlTooLarge(ValueError):
    def __init__(self, message: str, path: KeyPath) -> None:
        super().__init__(message)
        self.path = path


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0
        self.active: set[int] = set()  # containers being expanded: an alias to one of them is a cycle

    def enter(self, node: Any, path: KeyPath) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlTooLarge(f"the file expands to more than {MAX_NODES:,} values (anchors and aliases "
                               "repeat their content): write the values out or split the file", path)
        if len(path) > MAX_DEPTH:
            raise YamlTooLarge(f"values are nested more than {MAX_DEPTH} levels deep", path)
        if id(node) in self.active:
            raise YamlTooLarge("an alias refers to a value that contains it (a cycle)", path)


def _expanded_size(node: Any, memo: dict[int, int]) -> int:
    """How many values ``node`` becomes once aliases are expanded (each shared value sized once)."""
    if not isinstance(node, (CommentedMap, CommentedSeq)):
        return 1
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a value that contains itself counts once (ruamel reads such an alias as null)
    children = node.values() if isinstance(node, CommentedMap) else node
    memo[id(node)] = 1 + sum(_expanded_size(child, memo) for child in children)
    return memo[id(node)]


def _check_size(node: Any) -> None:
    """Refuse a document that aliases expand beyond MAX_NODES, naming its top-level key."""
    memo: dict[int, int] = {}
    if _expanded_size(node, memo) <= MAX_NODES:
        return
    path: KeyPath = ()
    while isinstance(node, (CommentedMap, CommentedSeq)):
        items = list(node.items()) if isinstance(node, CommentedMap) else list(enumerate(node))
        biggest = max(items, key=lambda item: _expanded_size(item[1], memo))
        if _expanded_size(biggest[1], memo) <= MAX_NODES:
            break
        path += (plain_scalar(biggest[0]),)
        node = biggest[1]
    where = f"{path[0]!r}" if path else "the file"
    raise YamlTooLarge(f"{where} expands to more than {MAX_NODES:,} values (anchors and aliases repeat "
                       "their content): write the values out or split the file", path[:1])


def _plain(node: Any, path: KeyPath, lines: dict[KeyPath, int], budget: _Budget | None = None) -> Any:
    budget = budget or _Budget()
    budget.enter(node, path)
    if isinstance(node, (CommentedMap, CommentedSeq)):
        budget.active.add(id(node))
        try:
            return _plain_container(node, path, lines, budget)
        finally:
            budget.active.discard(id(node))
    return plain_scalar(node)


def _plain_container(node: Any, path: KeyPath, lines: dict[KeyPath, int], budget: _Budget) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            key_plain = plain_scalar(key)
            child = path + (key_plain,)
            try:
                line, _col = node.lc.key(key)
                lines[child] = line + 1
            except (KeyError, TypeError, AttributeError):
                lines[child] = lines.get(path, 1)
            out[key_plain] = _plain(value, child, lines, budget)
        return out
    items = []
    for index, value in enumerate(node):
        child = path + (index,)
        try:
            line, _col = node.lc.item(index)
            lines[child] = line + 1
        except (KeyError, TypeError, AttributeError):
            lines[child] = lines.get(path, 1)
        items.append(_plain(value, child, lines, budget))
    return items


def plain_scalar(value: Any) -> Any:
    # ruamel's round-trip scalars subclass int/float/str; hand out plain types so that
    # pydantic and equality behave as for any Python value.
    if value is None:
        return None
    if type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                           value.microsecond, value.tzinfo)
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    return value


def parse_yaml(text: str, rel_path: str) -> tuple[YamlDocument | None, list[Issue]]:
    """Parse ``text``; on failure return no document and one issue naming the line."""
    if len(text) > MAX_FILE_BYTES:
        return None, [Issue(rel_path, None, f"the file is {len(text):,} characters long; a config file may hold at most "
                            f"{MAX_FILE_BYTES:,}: split it", rule="yaml-limits")]
    try:
        node = _fast_load(text)
        if node is _NOT_FAST:
            node = _rt_yaml().load(io.StringIO(text))
    except RecursionError:
        return None, [Issue(rel_path, None, f"values are nested too deeply (more than {MAX_DEPTH} levels)",
                            rule="yaml-limits")]
    except DuplicateKeyError as err:
        # ruamel's context mark is the start of the mapping, not the first definition.
        first = _first_definition(text, err.problem_mark)
        if first is None and err.context_mark:
            first = err.context_mark.line + 1
        second = err.problem_mark.line + 1 if err.problem_mark else None
        key = _duplicate_key_name(err)
        message = f"duplicate key {key!r}: already defined on line {first}" if key else (
            f"duplicate key (first defined on line {first})")
        return None, [Issue(rel_path, second, message, rule="yaml-duplicate-key")]
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        if err.context_mark and any(p in (err.problem or "") for p in ("end of stream", "expected ':'")):
            mark = err.context_mark  # where the unclosed quote or the key without ':' starts
        line = mark.line + 1 if mark else None
        context = err.context
        if context and err.context_mark and mark is not None and err.context_mark.line != mark.line:
            context = f"{context} (started on line {err.context_mark.line + 1})"  # e.g. an unclosed '['
        problem = " ".join(filter(None, [context, err.problem])) or str(err)
        return None, [Issue(rel_path, line, f"invalid YAML: {problem}", rule="yaml-syntax")]
    except YAMLError as err:
        return None, [Issue(rel_path, None, f"invalid YAML: {err}", rule="yaml-syntax")]
    lines: dict[KeyPath, int] = {(): 1}
    try:
        _check_size(node)
        data = _plain(node, (), lines)
    except YamlTooLarge as err:
        line = _top_line(node, err.path) or lines.get(err.path) or 1
        return None, [Issue(rel_path, line, str(err), rule="yaml-limits")]
    return YamlDocument(rel_path=rel_path, text=text, data=data, lines=lines), []


def _top_line(node: Any, path: KeyPath) -> int | None:
    if len(path) == 1 and isinstance(node, CommentedMap):
        for key in node:
            if plain_scalar(key) == path[0]:
                try:
                    return node.lc.key(key)[0] + 1
                except (KeyError, TypeError, AttributeError):
                    return None
    return None


def _first_definition(text: str, second: Any) -> int | None:
    """Line of the first key equal to the duplicate key found at mark ``second``."""
    if second is None:
        return None
    try:
        root = _rt_yaml().compose(io.StringIO(text))
    except YAMLError:
        return None
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, MappingNode):
            keys = [key for key, _value in node.value]
            for index, key in enumerate(keys):
                if (key.start_mark.line, key.start_mark.column) == (second.line, second.column):
                    for earlier in keys[:index]:
                        if isinstance(earlier, ScalarNode) and isinstance(key, ScalarNode) and earlier.value == key.value:
                            return earlier.start_mark.line + 1
            pending.extend(keys)
            pending.extend(value for _key, value in node.value)
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)
    return None


def _duplicate_key_name(err: DuplicateKeyError) -> str | None:
    problem = err.problem or ""
    # ruamel phrases it as: found duplicate key "name" with value ...
    if '"' in problem:
        parts = problem.split('"')
        if len(parts) >= 2:
            return parts[1]
    return None


def read_yaml_file(path: Path, rel_path: str) -> tuple[YamlDocument | None, list[Issue]]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:  # refused before it is read
            return None, [Issue(rel_path, None, f"the file is {size:,} bytes long; a config file may hold at most "
                                f"{MAX_FILE_BYTES:,}: split it", rule="yaml-limits")]
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        return None, [Issue(rel_path, None, f"file is not UTF-8 text: {err.reason}", rule="yaml-syntax")]
    except OSError as err:
        return None, [Issue(rel_path, None, f"cannot read file: {err.strerror}", rule="yaml-syntax")]
    return parse_yaml(text, rel_path)
