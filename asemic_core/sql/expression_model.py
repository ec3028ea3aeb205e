"""A parsed config expression and its errors: :class:`ParsedExpression` (the tree with
placeholders as markers), :class:`Placeholder`, :class:`ExpressionError`, and where in
the original text a node starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlglot import exp


DEFAULT_DIALECT = "duckdb"
SOURCE_DIALECT = "bigquery"

# --------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------


class ExpressionError(ValueError):
    """A config expression was refused.

    ``message`` is a human readable reason; ``position`` is the 0-based character offset
    in the original text the problem refers to (None when unknown).
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} (at character {position})")


class Placeholder(NamedTuple):
    """A ``{name}`` (namespace None) or ``{namespace.name}`` reference."""

    namespace: str | None
    name: str

    def __str__(self) -> str:
        return "{" + (f"{self.namespace}.{self.name}" if self.namespace else self.name) + "}"


Resolver = Callable[[str | None, str], exp.Expression]
AggregateHook = Callable[[int, exp.Expression], exp.Expression]


@dataclass(frozen=True, eq=False)
class ParsedExpression:
    """A validated expression.

    ``tree`` is the sqlglot tree (BigQuery semantics) in which every placeholder is an
    unquoted marker column; treat it as read-only (:func:`to_tree` works on a copy).
    ``placeholders`` lists every occurrence in text order (duplicates kept) and ``spans``
    the matching ``(start, end)`` character offsets (end exclusive) in ``text``.
    """

    text: str
    tree: exp.Expression
    placeholders: tuple[Placeholder, ...]
    spans: tuple[tuple[int, int], ...]
    allow_aggregates: bool
    _markers: dict[str, int] = field(repr=False)  # MARKER (upper-case) -> occurrence index
    _offsets: OffsetMap = field(repr=False)

    @property
    def references(self) -> list[Placeholder]:
        """Distinct placeholders in order of first occurrence."""
        return list(dict.fromkeys(self.placeholders))

    def placeholder_of(self, node: exp.Expression) -> Placeholder | None:
        """The placeholder a node of ``tree`` stands for (None if it is not one)."""
        index = marker_index(node, self._markers)
        return None if index is None else self.placeholders[index]

    def __repr__(self) -> str:
        return f"ParsedExpression({self.text!r})"

class OffsetMap:
    """Maps offsets in the marker-substituted text back to the original text."""

    def __init__(self, original_length: int) -> None:
        # (sub_start, sub_end, orig_start, orig_end) for each substituted placeholder
        self._segments: list[tuple[int, int, int, int]] = []
        self.original_length = original_length
        self.shift = 0  # characters added in front of the substituted text before parsing

    def add(self, sub_start: int, sub_end: int, orig_start: int, orig_end: int) -> None:
        self._segments.append((sub_start, sub_end, orig_start, orig_end))

    def to_original(self, offset: int | None) -> int | None:
        if offset is None:
            return None
        offset -= self.shift
        delta = 0
        for sub_start, sub_end, orig_start, orig_end in self._segments:
            if offset < sub_start:
                break
            if offset < sub_end:
                return orig_start
            delta = orig_end - sub_end
        return min(max(0, offset + delta), self.original_length)

def marker_index(node: exp.Expression, markers: dict[str, int]) -> int | None:
    if (
        isinstance(node, exp.Column)
        and not node.table
        and isinstance(node.this, exp.Identifier)
        and not node.this.quoted
    ):
        return markers.get(node.name.upper())
    return None


def error_at(parsed: ParsedExpression, message: str, node: exp.Expression) -> ExpressionError:
    return ExpressionError(message, node_position(parsed, node))


def node_position(parsed: ParsedExpression, node: exp.Expression) -> int | None:
    """Best-effort character offset in ``parsed.text`` where ``node`` starts."""
    index = marker_index(node, parsed._markers)
    if index is not None:
        return parsed.spans[index][0]
    starts = [
        n.meta["start"]
        for n in node.walk()
        if isinstance(n, exp.Expression) and "start" in n.meta
    ]
    return parsed._offsets.to_original(min(starts)) if starts else None
