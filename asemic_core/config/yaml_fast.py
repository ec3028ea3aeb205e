"""Composing a config file with libyaml (PyYAML's C parser), about 30 times faster than
ruamel's pure-Python parser, into the very nodes ruamel's composer builds: every plain
scalar's tag is resolved by ruamel's resolver (YAML 1.2, as when ruamel parses), and the
nodes keep libyaml's line and column marks, so ruamel's constructor gives the same values
and lines.

Only what both parsers read alike takes this path. Anchors, aliases, explicit tags,
directives, several documents, tabs, NEL/LS/PS line breaks, deep nesting and anything libyaml
refuses give ``None``: ruamel then parses the text itself, with its own error messages.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

try:
    import yaml as _pyyaml

    _LOADER = _pyyaml.CSafeLoader  # AttributeError without libyaml: no fast path
except (ImportError, AttributeError):  # pragma: no cover - PyYAML with libyaml is a dependency
    _pyyaml = None
    _LOADER = None

EMPTY = object()  # a document that holds nothing (ruamel loads it as None)
# line breaks in YAML 1.1 only, a byte-order mark, and tabs (libyaml takes one after "key:" as a
# separator, ruamel refuses it)
_BREAKS = ("\x85", "\u2028", "\u2029", "\ufeff", "\t")


class _Unsupported(Exception):
    pass


def compose(text: str, resolver: Any, max_depth: int) -> Any:
    """The root node of ``text`` (ruamel nodes, tags from ``resolver``), ``EMPTY``, or None
    when ruamel must parse the text (see the module's docstring)."""
    if _LOADER is None or any(mark in text for mark in _BREAKS):
        return None
    parser = _LOADER(text)
    try:
        events = _events(parser)
        return _Composer(events, resolver, max_depth).document()
    except (_Unsupported, _pyyaml.YAMLError, StopIteration):
        return None
    finally:
        parser.dispose()


def _events(parser):
    while parser.check_event():
        yield parser.get_event()


class _Composer:
    def __init__(self, events, resolver: Any, max_depth: int) -> None:
        self.events = events
        self.resolver = resolver
        self.max_depth = max_depth
        self.depth = 0

    def document(self) -> Any:
        events = self.events
        next(events)  # StreamStartEvent
        event = next(events)
        if isinstance(event, _pyyaml.StreamEndEvent):
            return EMPTY
        if event.version is not None or event.tags:  # %YAML / %TAG directives
            raise _Unsupported
        root = self._node(next(events))
        next(events)  # DocumentEndEvent
        if not isinstance(next(events), _pyyaml.StreamEndEvent):  # a second document
            raise _Unsupported
        return root

    def _node(self, event) -> Any:
        if isinstance(event, _pyyaml.AliasEvent) or event.anchor is not None:
            raise _Unsupported
        if event.tag is not None and event.tag != "!":
            raise _Unsupported
        if isinstance(event, _pyyaml.ScalarEvent):
            tag = self.resolver.resolve(ScalarNode, event.value, event.implicit)
            return ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        self.depth += 1
        if self.depth > self.max_depth:
            raise _Unsupported
        if isinstance(event, _pyyaml.SequenceStartEvent):
            node = SequenceNode(self.resolver.resolve(SequenceNode, None, event.implicit), [], event.start_mark,
                                None, flow_style=event.flow_style)
            for item in self.events:
                if isinstance(item, _pyyaml.SequenceEndEvent):
                    node.end_mark = item.end_mark
                    break
                node.value.append(self._node(item))
        elif isinstance(event, _pyyaml.MappingStartEvent):
            node = MappingNode(self.resolver.resolve(MappingNode, None, event.implicit), [], event.start_mark,
                               None, flow_style=event.flow_style)
            for item in self.events:
                if isinstance(item, _pyyaml.MappingEndEvent):
                    node.end_mark = item.end_mark
                    break
                node.value.append((self._node(item), self._node(next(self.events))))
        else:  # pragma: no cover - libyaml emits no other event here
            raise _Unsupported
        self.depth -= 1
        return node
