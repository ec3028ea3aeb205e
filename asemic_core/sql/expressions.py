"""Config expressions: parse, validate and render BigQuery-flavoured SQL fragments.

Expressions in configs (SEMANTICS.md section 7) are BigQuery Standard SQL fragments with
``{placeholder}`` references:

* event property ``select``/``where`` and event table ``where``: ``{column}``;
* computed property ``select``: ``{prop_id}``;
* KPI ``select``/``where``: ``{property.x}`` and ``{kpi.k}``.

Pipeline:

1. :func:`parse_expression` tokenizes the text with sqlglot's BigQuery tokenizer (so string
   literals, quoted identifiers and comments are recognised exactly as the parser will see
   them), replaces every placeholder by a unique identifier marker, parses the result with
   ``read="bigquery"`` and refuses anything that is not a single scalar or aggregate
   expression (statements, subqueries, table references, window functions, ...).
2. :func:`to_tree` / :func:`render` apply dialect fixes where sqlglot's BigQuery -> DuckDB
   translation is wrong (each one is explained by a ``# FIX:`` comment in
   :func:`_fix_generic`, :func:`_fix_duckdb` and :func:`_fix_duckdb_integer_cast`),
   replace each marker by the expression returned by the caller's
   ``resolve(namespace, name)`` (parenthesised when not atomic) and generate SQL for the
   target dialect.  User text never reaches the output by string formatting: the output is
   always generated from a sqlglot tree.

Known limitations (DuckDB target):

* ``x / 0`` gives +/-inf or NaN (BigQuery raises an error); use ``SAFE_DIVIDE``.
  ``/`` is float division as long as the connection keeps DuckDB's default
  ``integer_division = false``.
* ``CAST(x AS INT64)`` rounds halves away from zero only when ``x`` is visibly FLOAT64
  (float literal, division, AVG, FLOAT64 cast, ... or a resolved expression whose
  ``.type`` is DOUBLE); an untyped DOUBLE column is cast with DuckDB's half-to-even.
* ``DATE_TRUNC`` is assumed to truncate a DATE (result cast to DATE) unless its argument
  is visibly a TIMESTAMP/DATETIME; use ``TIMESTAMP_TRUNC`` for timestamps.
* ``DIV`` on FLOAT64 values (an error in BigQuery) divides without truncating.
* Functions sqlglot passes through untranslated (``SAFE_ADD``, ``NET.HOST``, ...) are
  accepted here and fail when DuckDB executes them; functions sqlglot marks as
  unsupported (``SOUNDEX``, ``APPROX_TOP_COUNT``) raise :class:`ExpressionError` in
  :func:`render`.
* Other dialects (e.g. ``"spark"``) get only the dialect-independent fixes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.tokens import Token, TokenType

__all__ = [
    "ExpressionError",
    "Placeholder",
    "ParsedExpression",
    "KPI_AGGREGATES",
    "parse_expression",
    "to_tree",
    "render",
    "find_aggregates",
    "aggregate_name",
    "placeholders_in",
    "placeholders_outside_aggregates",
    "is_aggregate_expression",
    "is_constant",
    "node_position",
    "generate",
    "iter_placeholder_nodes",
]

DEFAULT_DIALECT = "duckdb"
SOURCE_DIALECT = "bigquery"

#: Aggregations a KPI ``select`` may use (names as returned by :func:`aggregate_name`;
#: ``COUNTD`` is ``COUNT(DISTINCT x)``).
KPI_AGGREGATES: frozenset[str] = frozenset({"SUM", "AVG", "COUNT", "COUNTD", "MIN", "MAX"})

MAX_EXPRESSION_LENGTH = 20_000


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
    _offsets: _OffsetMap = field(repr=False)

    @property
    def references(self) -> list[Placeholder]:
        """Distinct placeholders in order of first occurrence."""
        return list(dict.fromkeys(self.placeholders))

    def placeholder_of(self, node: exp.Expression) -> Placeholder | None:
        """The placeholder a node of ``tree`` stands for (None if it is not one)."""
        index = _marker_index(node, self._markers)
        return None if index is None else self.placeholders[index]

    def __repr__(self) -> str:
        return f"ParsedExpression({self.text!r})"


# --------------------------------------------------------------------------------------
# Scanning: placeholders -> markers
# --------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_IDENT_CHAR_RE = re.compile(r"[A-Za-z0-9_]")

# Words that start a statement (DDL/DML/utility).  Refused as bare words anywhere outside
# string literals / quoted identifiers / placeholders.
_STATEMENT_WORDS = frozenset(
    {
        "CREATE", "DROP", "INSERT", "UPDATE", "DELETE", "MERGE", "ALTER", "TRUNCATE",
        "ATTACH", "DETACH", "COPY", "PRAGMA", "CALL", "EXPORT", "IMPORT", "INSTALL", "LOAD",
        "GRANT", "REVOKE", "VACUUM", "CHECKPOINT", "EXECUTE", "EXEC", "DECLARE", "BEGIN",
        "COMMIT", "ROLLBACK", "USE", "SET", "UPSERT", "ANALYZE", "DESCRIBE",
        "SHOW", "SUMMARIZE",
    }
)
_QUERY_WORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
_SET_OPERATION_WORDS = frozenset({"UNION", "INTERSECT", "EXCEPT", "MINUS"})
# Functions sqlglot's tokenizer classifies as statement keywords (REPEAT: scripting loop).
_KEYWORD_FUNCTIONS = frozenset({"REPEAT"})
# Functions whose argument syntax legitimately contains FROM.
_FROM_FUNCTIONS = frozenset({"EXTRACT"})


class _OffsetMap:
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


def _is_quoted_token(token: Token) -> bool:
    name = token.token_type.name
    return name.endswith("STRING") or name == "IDENTIFIER"


def _unterminated_quote_position(text: str) -> int | None:
    """Best-effort location of an unclosed quote (for tokenizer errors)."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i) or ch == "#":
            nl = text.find("\n", i)
            if nl < 0:
                return None
            i = nl + 1
            continue
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return i
            i = end + 2
            continue
        if ch in "'\"`":
            quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else ch
            j = i + len(quote)
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                j += 1
            else:
                return i
            i = j + len(quote)
            continue
        i += 1
    return None


def _tokenize(text: str) -> list[Token]:
    """BigQuery tokens of ``text`` (offsets relative to ``text``).

    The text is tokenized after a "(": sqlglot's tokenizer turns a statement-leading
    keyword it classifies as a command (CALL, REPEAT, ...) into one token followed by the
    REST OF THE TEXT AS A SINGLE STRING, which would hide everything after it (even a ';')
    from the checks below.  Behind "(" the keyword is an ordinary token.
    """
    try:
        tokens = sqlglot.Dialect.get_or_raise(SOURCE_DIALECT).tokenize("(" + text)
    except TokenError as error:
        position = _unterminated_quote_position(text)
        detail = "unterminated string literal, quoted identifier or comment"
        raise ExpressionError(f"Cannot tokenize expression: {detail}", position) from error
    tokens = tokens[1:]
    for token in tokens:
        token.start -= 1
        token.end -= 1
    return tokens


@dataclass
class _Scan:
    substituted: str
    placeholders: list[Placeholder]
    spans: list[tuple[int, int]]
    markers: dict[str, int]
    offsets: _OffsetMap


def _marker_prefix(text: str) -> str:
    prefix = "__asemic_ph_"
    counter = 0
    while prefix.lower() in text.lower():
        counter += 1
        prefix = f"__asemic_ph{counter}_"
    return prefix


def _scan(text: str, namespaces: Collection[str | None] | None) -> _Scan:
    tokens = _tokenize(text)
    if not tokens:
        raise ExpressionError("Empty expression (only comments or whitespace)")
    prefix = _marker_prefix(text)
    placeholders: list[Placeholder] = []
    spans: list[tuple[int, int]] = []
    paren_owner: list[str] = []  # for each open '(' the upper-case word before it
    paren_starts: list[int] = []
    bracket_depth = 0
    for token in tokens:
        for comment in token.comments or ():
            if ";" in comment:
                raise ExpressionError(
                    "';' is not allowed, not even in a comment", _comment_position(text, comment)
                )

    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        kind = token.token_type
        if kind == TokenType.SEMICOLON:
            raise ExpressionError(
                "';' is not allowed: an expression must be a single SQL expression, "
                "not one or more statements",
                token.start,
            )
        if kind == TokenType.L_BRACE:
            j = i + 1
            while j < n and tokens[j].token_type != TokenType.R_BRACE:
                if tokens[j].token_type == TokenType.L_BRACE:
                    raise ExpressionError(
                        "Nested '{' inside a placeholder: placeholders are written "
                        "{name} or {namespace.name}",
                        tokens[j].start,
                    )
                j += 1
            if j == n:
                raise ExpressionError(
                    "Unclosed placeholder: '{' without a matching '}'", token.start
                )
            start, end = token.start, tokens[j].end + 1
            placeholders.append(_placeholder_from(text, start, end, namespaces))
            spans.append((start, end))
            i = j + 1
            continue
        if kind == TokenType.R_BRACE:
            raise ExpressionError("Unbalanced '}' without a matching '{'", token.start)
        if not _is_quoted_token(token):
            word = token.text.upper()
            is_call = i + 1 < n and tokens[i + 1].token_type == TokenType.L_PAREN
            if (word in _STATEMENT_WORDS or kind in _STATEMENT_TOKEN_TYPES) and not (
                word in _KEYWORD_FUNCTIONS and is_call
            ):
                raise ExpressionError(
                    f"SQL statement keyword {token.text.upper()!s} is not allowed: an "
                    "expression must be a single scalar or aggregate expression "
                    "(no DDL/DML)",
                    token.start,
                )
            if word in _QUERY_WORDS and kind != TokenType.VAR or word == "SELECT":
                raise ExpressionError(
                    f"Subqueries are not allowed ({word} found): an expression cannot "
                    "read other tables",
                    token.start,
                )
            if word in _SET_OPERATION_WORDS:
                raise ExpressionError(
                    f"Set operations ({word}) are not allowed", token.start
                )
            if kind in (TokenType.PARAMETER, TokenType.PLACEHOLDER):
                raise ExpressionError(
                    "Query parameters (@name, @@name, ?) are not allowed: use {placeholders}",
                    token.start,
                )
            if kind == TokenType.OVER:
                raise ExpressionError(
                    "Window functions (OVER) are not allowed in config expressions",
                    token.start,
                )
            if kind == TokenType.FROM and not (
                paren_owner and paren_owner[-1] in _FROM_FUNCTIONS
            ):
                raise ExpressionError(
                    "FROM is not allowed: an expression cannot read from a table "
                    "(use {column} placeholders)",
                    token.start,
                )
            if kind == TokenType.L_PAREN:
                previous = tokens[i - 1].text.upper() if i > 0 else ""
                paren_owner.append(previous)
                paren_starts.append(token.start)
            elif kind == TokenType.R_PAREN:
                if not paren_owner:
                    raise ExpressionError("Unbalanced ')' without a matching '('", token.start)
                paren_owner.pop()
                paren_starts.pop()
            elif kind == TokenType.L_BRACKET:
                bracket_depth += 1
            elif kind == TokenType.R_BRACKET:
                bracket_depth = max(0, bracket_depth - 1)
            elif kind == TokenType.COMMA and not paren_owner and not bracket_depth:
                raise ExpressionError(
                    "A comma-separated list is not allowed: an expression must be a single "
                    "value",
                    token.start,
                )
        i += 1
    if paren_starts:
        raise ExpressionError("Unclosed '(' without a matching ')'", paren_starts[-1])

    substituted: list[str] = []
    offsets = _OffsetMap(len(text))
    markers: dict[str, int] = {}
    cursor = 0
    length = 0
    for index, (start, end) in enumerate(spans):
        chunk = text[cursor:start]
        substituted.append(chunk)
        length += len(chunk)
        marker = f"{prefix}{index}"
        markers[marker.upper()] = index
        substituted.append(marker)
        offsets.add(length, length + len(marker), start, end)
        length += len(marker)
        cursor = end
    substituted.append(text[cursor:])
    return _Scan("".join(substituted), placeholders, spans, markers, offsets)


_STATEMENT_TOKEN_TYPES = frozenset(
    getattr(TokenType, name)
    for name in (
        "CREATE", "DROP", "INSERT", "UPDATE", "DELETE", "MERGE", "ALTER", "TRUNCATE",
        "COPY", "PRAGMA", "COMMAND", "EXPORT", "ATTACH", "DETACH", "USE", "GRANT",
        "REVOKE", "SET", "DESCRIBE", "SHOW", "SUMMARIZE", "INSTALL", "LOAD", "EXECUTE",
        "DECLARE", "BEGIN", "COMMIT", "ROLLBACK", "CACHE", "UNCACHE", "REFRESH",
    )
    if hasattr(TokenType, name)
)


def _comment_position(text: str, comment: str) -> int | None:
    found = text.find(comment)
    return None if found < 0 else found + comment.find(";")


def _placeholder_from(
    text: str, start: int, end: int, namespaces: Collection[str | None] | None
) -> Placeholder:
    raw = text[start:end]
    inner = raw[1:-1].strip()
    if not inner:
        raise ExpressionError(
            "Empty placeholder '{}': write {name} or {namespace.name}", start
        )
    parts = inner.split(".")
    if not all(_NAME_RE.match(part) for part in parts):
        raise ExpressionError(
            f"Invalid placeholder {raw!r}: expected {{name}} or {{namespace.name}} made of "
            "letters, digits and underscores",
            start,
        )
    if start > 0 and (_IDENT_CHAR_RE.match(text[start - 1]) or text[start - 1] in ".@$`"):
        raise ExpressionError(
            f"Placeholder {raw} must not be glued to the preceding "
            f"{text[start - 1]!r}: placeholders cannot be qualified or concatenated "
            "with names",
            start,
        )
    if end < len(text) and (_IDENT_CHAR_RE.match(text[end]) or text[end] in ".`"):
        raise ExpressionError(
            f"Placeholder {raw} must not be glued to the following {text[end]!r} "
            "(field access and concatenated names are not supported)",
            start,
        )
    # `{level_started.timing.secs}`: a nested STRUCT path; the namespace is its first part.
    placeholder = (
        Placeholder(parts[0], ".".join(parts[1:])) if len(parts) >= 2 else Placeholder(None, parts[0])
    )
    if namespaces is not None and placeholder.namespace not in namespaces:
        expected = ", ".join(
            "{name}" if ns is None else "{" + ns + ".name}"
            for ns in sorted(namespaces, key=lambda v: (v is not None, v or ""))
        )
        found = placeholder.namespace or "(none)"
        raise ExpressionError(
            f"Placeholder {raw} has namespace {found!r}, which is not allowed here; "
            f"expected {expected}",
            start,
        )
    return placeholder


# --------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------


def _named(*names: str) -> tuple[type, ...]:
    return tuple(getattr(exp, name) for name in names if hasattr(exp, name))


_STATEMENT_NODES = _named(
    "DDL", "DML", "Command", "Create", "Drop", "Insert", "Update", "Delete", "Merge",
    "Alter", "TruncateTable", "Copy", "Pragma", "Attach", "Detach", "Export", "Use", "Set",
    "Transaction", "Commit", "Rollback", "Describe", "Show", "Cache", "Uncache", "LoadData",
    "Grant", "Revoke", "Install", "Summarize", "Declare", "Execute",
)
_QUERY_NODES = _named("Query", "Subquery", "Exists", "Select", "SetOperation", "Values")
_TABLE_NODES = _named("Table", "From", "Join", "Lateral", "TableFromRows")
# Known functions that read files/secrets or produce tables.
_FORBIDDEN_FUNCTIONS = _named(
    "ReadCSV", "ReadParquet", "ToFile", "Secret", "GenerateTable", "JSONTable", "XMLTable",
    "SplitToTable", "StrtokSplitToTable",
)
_PARAMETER_NODES = _named("Parameter", "Placeholder", "SessionParameter")
_WINDOW_ONLY = _named(
    "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist", "Ntile", "Lag", "Lead",
    "FirstValue", "LastValue", "NthValue",
)
_SAFE_FUNC = _named("SafeFunc")
_ATOMIC = (exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Paren)
# Nodes every target dialect prints as a self-delimited call (NAME(...), CAST(...),
# CASE ... END), so they need no extra parentheses as operands.
_CALL_LIKE = (exp.AggFunc, exp.Anonymous, *_named(
    "Cast", "TryCast", "Case", "If", "Coalesce", "Nullif", "Abs", "Round", "Floor", "Ceil",
    "Lower", "Upper", "Length", "Substring", "DateDiff", "Extract", "Greatest", "Least",
    "Sqrt", "Ln", "Exp", "CurrentDate", "CurrentTimestamp",
))


def parse_expression(
    text: str,
    *,
    allow_aggregates: bool,
    namespaces: Collection[str | None] | None = None,
) -> ParsedExpression:
    """Parse and validate one BigQuery-flavoured config expression.

    ``namespaces`` optionally restricts placeholder namespaces (``{None}`` for plain
    ``{column}`` references, ``{"property", "kpi"}`` for KPI selects, ...).
    Raises :class:`ExpressionError` for anything that is not a single scalar (or, when
    ``allow_aggregates``, aggregate) expression.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"Expression must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("Empty expression")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"Expression is too long ({len(text)} characters, at most "
            f"{MAX_EXPRESSION_LENGTH})"
        )

    scan = _scan(text, namespaces)
    tree = _parse_single(scan)
    parsed = ParsedExpression(
        text=text,
        tree=tree,
        placeholders=tuple(scan.placeholders),
        spans=tuple(scan.spans),
        allow_aggregates=allow_aggregates,
        _markers=scan.markers,
        _offsets=scan.offsets,
    )
    _normalise(parsed)
    _validate(parsed)
    return parsed


def _parse_single(scan: _Scan) -> exp.Expression:
    # The text is parsed inside parentheses (its own parentheses are balanced, checked by
    # _scan) so that sqlglot parses an expression, never a statement: a leading keyword
    # such as REPEAT('ab', 2) would otherwise fall back to a raw Command.  The newline
    # keeps a trailing `--` comment from swallowing the closing parenthesis.
    wrapped = "(" + scan.substituted + "\n)"
    scan.offsets.shift = 1
    try:
        statements = sqlglot.parse(wrapped, read=SOURCE_DIALECT, error_level=ErrorLevel.IMMEDIATE)
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        description = detail.get("description") or str(error)
        # "<class 'sqlglot.expressions.core.Add'>" -> "Add"
        description = re.sub(r"<class '(?:[\w]+\.)*(\w+)'>", r"\1", description)
        position = _parse_error_offset(wrapped, detail)
        highlight = (detail.get("highlight") or "").strip()
        for marker, index in scan.markers.items():
            # show placeholders, not markers, in messages
            if highlight.upper() == marker:
                highlight = str(scan.placeholders[index])
        near = f" near {highlight!r}" if highlight else ""
        if position is not None and position - 1 >= len(scan.substituted):
            near = " at the end of the expression"  # the parenthesis added by wrapping
        raise ExpressionError(
            f"Syntax error{near}: {description}", scan.offsets.to_original(position)
        ) from error
    except TokenError as error:  # pragma: no cover - tokenization already succeeded
        raise ExpressionError(f"Cannot tokenize expression: {error}") from error
    except RecursionError as error:
        raise ExpressionError("Expression is nested too deeply") from error

    statements = [s for s in statements if s is not None]
    if not statements:
        raise ExpressionError("Empty expression (only comments or whitespace)")
    if len(statements) > 1:
        raise ExpressionError("More than one statement: an expression must be a single one")
    tree = statements[0]
    if not isinstance(tree, exp.Paren):
        # e.g. "(1) AS x" parses as an alias of the wrapping parentheses
        what = "aliases are not allowed" if isinstance(tree, exp.Alias) else type(tree).__name__
        raise ExpressionError(f"Not a single expression: {what}")
    inner = tree.this
    inner.pop()
    return inner


def _parse_error_offset(text: str, detail: dict) -> int | None:
    line, col = detail.get("line"), detail.get("col")
    if not line or not col:
        return None
    lines = text.split("\n")
    if line > len(lines):
        return None
    start_of_line = sum(len(part) + 1 for part in lines[: line - 1])
    highlight = detail.get("highlight") or ""
    return max(0, min(len(text), start_of_line + col - max(len(highlight), 1)))


def _marker_index(node: exp.Expression, markers: dict[str, int]) -> int | None:
    if (
        isinstance(node, exp.Column)
        and not node.table
        and isinstance(node.this, exp.Identifier)
        and not node.this.quoted
    ):
        return markers.get(node.name.upper())
    return None


def _error(parsed: ParsedExpression, message: str, node: exp.Expression) -> ExpressionError:
    return ExpressionError(message, node_position(parsed, node))


def node_position(parsed: ParsedExpression, node: exp.Expression) -> int | None:
    """Best-effort character offset in ``parsed.text`` where ``node`` starts."""
    index = _marker_index(node, parsed._markers)
    if index is not None:
        return parsed.spans[index][0]
    starts = [
        n.meta["start"]
        for n in node.walk()
        if isinstance(n, exp.Expression) and "start" in n.meta
    ]
    return parsed._offsets.to_original(min(starts)) if starts else None


def _normalise(parsed: ParsedExpression) -> None:
    """In-place normalisation of the freshly parsed tree (BigQuery semantics kept)."""
    tree = parsed.tree
    for node in list(tree.walk()):
        # Comments never reach the generated SQL.
        if getattr(node, "comments", None):
            node.comments = None
    for node in list(tree.walk()):
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "COUNTD":
            args = node.expressions
            if len(args) != 1 or isinstance(args[0], exp.Star):
                raise _error(
                    parsed, "COUNTD takes exactly one argument: COUNTD(expression)", node
                )
            arg = args[0]
            distinct = arg if isinstance(arg, exp.Distinct) else exp.Distinct(expressions=[arg])
            count = exp.Count(this=distinct, big_int=True)
            count.meta.update(node.meta)
            count.meta["countd"] = True
            if node is tree:
                tree = count
                object.__setattr__(parsed, "tree", tree)  # frozen dataclass, set once here
            else:
                node.replace(count)


def _validate(parsed: ParsedExpression) -> None:
    tree = parsed.tree
    if isinstance(tree, _STATEMENT_NODES):
        raise _error(parsed, f"{type(tree).__name__} statements are not allowed", tree)

    seen_markers: set[int] = set()
    for node in tree.walk(bfs=False):
        if isinstance(node, _STATEMENT_NODES):
            raise _error(parsed, "SQL statements (DDL/DML) are not allowed", node)
        if isinstance(node, _QUERY_NODES):
            raise _error(
                parsed, "Subqueries are not allowed: an expression cannot read other tables",
                node,
            )
        if isinstance(node, _TABLE_NODES):
            raise _error(parsed, "Table references are not allowed", node)
        if isinstance(node, exp.Window):
            raise _error(parsed, "Window functions (OVER) are not allowed", node)
        if isinstance(node, _WINDOW_ONLY):
            raise _error(
                parsed,
                f"{_function_name(node)} is a window function, which is not allowed",
                node,
            )
        if isinstance(node, _PARAMETER_NODES):
            raise _error(
                parsed,
                "Query parameters (@name, ?) are not allowed: use {placeholders}",
                node,
            )
        if isinstance(node, _FORBIDDEN_FUNCTIONS):
            raise _error(
                parsed, f"Function {_function_name(node)} is not allowed in expressions", node
            )
        if isinstance(node, exp.UDTF) and not (
            isinstance(node, exp.Unnest) and isinstance(node.parent, exp.In)
        ):
            raise _error(
                parsed,
                f"Table-valued function {_function_name(node)} is not allowed",
                node,
            )
        if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
            name = str(node.this)
            if name.upper() in parsed._markers:
                raise _error(parsed, "A placeholder cannot be used as a function name", node)
            raise _error(
                parsed,
                f"Unknown function {name.upper()}: not a BigQuery function supported by "
                "the SQL translator",
                node,
            )
        if isinstance(node, _SAFE_FUNC):
            raise _error(parsed, "The SAFE. function prefix is not supported", node)
        if isinstance(node, exp.Filter):
            raise _error(
                parsed,
                "FILTER clauses are not supported: use COUNTIF(...) or IF(...) inside the "
                "aggregate",
                node,
            )
        if isinstance(node, exp.Alias) and not isinstance(node.parent, exp.Struct):
            alias = node.args.get("alias")
            raise _error(
                parsed,
                "Aliases (`expr AS name` or `expr name`) are not allowed in expressions",
                alias if isinstance(alias, exp.Expression) and "start" in alias.meta else node,
            )
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            raise _error(parsed, "'*' is only allowed in COUNT(*)", node)
        if isinstance(node, exp.Column):
            index = _marker_index(node, parsed._markers)
            if index is not None:
                seen_markers.add(index)
            elif node.table:
                raise _error(
                    parsed,
                    f"Reference to table column {node.sql(SOURCE_DIALECT)} is not allowed: "
                    "expressions may only use {placeholders}",
                    node,
                )
            elif isinstance(node.this, exp.Star):
                raise _error(parsed, "'*' is only allowed in COUNT(*)", node)
            else:
                raise _error(
                    parsed,
                    f"Unknown name {node.name!r}: reference columns and properties as "
                    f"{{{node.name}}}",
                    node,
                )
        if isinstance(node, exp.AggFunc):
            if not parsed.allow_aggregates:
                raise _error(
                    parsed,
                    f"Aggregate function {aggregate_name(node)} is not allowed here "
                    "(only a scalar expression is expected)",
                    node,
                )
            outer = node.find_ancestor(exp.AggFunc)
            if outer is not None:
                raise _error(
                    parsed,
                    f"Nested aggregate: {aggregate_name(node)} inside "
                    f"{aggregate_name(outer)} is not allowed",
                    node,
                )

    for index in range(len(parsed.placeholders)):
        if index not in seen_markers:
            raise ExpressionError(
                f"Placeholder {parsed.placeholders[index]} is used as a function name, "
                "type, date part or alias: placeholders can only stand for values",
                parsed.spans[index][0],
            )


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper()
    meta_name = node.meta.get("bigquery_name")
    if meta_name:
        return str(meta_name).upper()
    if isinstance(node, exp.Func):
        return node.sql_name()
    return type(node).__name__.upper()


# --------------------------------------------------------------------------------------
# Analysis helpers
# --------------------------------------------------------------------------------------


def _top_level_aggregates(tree: exp.Expression) -> list[exp.Expression]:
    found: list[exp.Expression] = []
    for node in tree.dfs(prune=lambda n: isinstance(n, exp.AggFunc)):
        if isinstance(node, exp.AggFunc):
            found.append(node)
    return found


def find_aggregates(parsed: ParsedExpression) -> list[exp.Expression]:
    """Top-level aggregate calls in ``parsed.tree`` (nested ones are refused at parse).

    The nodes belong to ``parsed.tree``: use :func:`aggregate_name`,
    :func:`placeholders_in` and :func:`node_position` on them; do not mutate them.
    """
    return _top_level_aggregates(parsed.tree)


def aggregate_name(node: exp.Expression) -> str:
    """Upper-case name of an aggregate: SUM, AVG, COUNT, COUNTD (COUNT DISTINCT), MIN,
    MAX, or the function's BigQuery name (COUNTIF, ANY_VALUE, ...)."""
    if isinstance(node, exp.Count):
        return "COUNTD" if isinstance(node.this, exp.Distinct) else "COUNT"
    simple = {exp.Sum: "SUM", exp.Avg: "AVG", exp.Min: "MIN", exp.Max: "MAX"}
    for cls, name in simple.items():
        if type(node) is cls:
            return name
    return _function_name(node)


def placeholders_in(parsed: ParsedExpression, node: exp.Expression) -> list[Placeholder]:
    """Placeholder occurrences inside ``node`` (a node of ``parsed.tree``), text order."""
    indexes = sorted(
        index
        for n in node.walk()
        if (index := _marker_index(n, parsed._markers)) is not None
    )
    return [parsed.placeholders[i] for i in indexes]


def placeholders_outside_aggregates(parsed: ParsedExpression) -> list[Placeholder]:
    """Placeholder occurrences not enclosed by any aggregate call, in text order."""
    indexes = sorted(
        index
        for node in parsed.tree.dfs(prune=lambda n: isinstance(n, exp.AggFunc))
        if (index := _marker_index(node, parsed._markers)) is not None
    )
    return [parsed.placeholders[i] for i in indexes]


def is_aggregate_expression(parsed: ParsedExpression) -> bool:
    """True when the expression contains an aggregate and every placeholder is inside one
    (e.g. ``COUNT(*)``, ``SUM({a}*{b})/SUM({b})``)."""
    return bool(find_aggregates(parsed)) and not placeholders_outside_aggregates(parsed)


def is_constant(parsed: ParsedExpression) -> bool:
    """True when the expression has neither placeholders nor aggregates (e.g. ``1``)."""
    return not parsed.placeholders and not find_aggregates(parsed)


# --------------------------------------------------------------------------------------
# Dialect fixes
# --------------------------------------------------------------------------------------


def _paren(node: exp.Expression) -> exp.Expression:
    """Wrap in parentheses unless the node is atomic for precedence purposes."""
    if isinstance(node, exp.Literal) and node.is_number and str(node.this).startswith("-"):
        return exp.Paren(this=node)
    if isinstance(node, _ATOMIC) or isinstance(node, _CALL_LIKE):
        return node
    return exp.Paren(this=node)


_FLOAT_TYPES = {
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
}
_FLOAT_FUNCTIONS = _named(
    "Div", "SafeDivide", "Avg", "Sqrt", "Ln", "Log", "Exp", "Pow", "Rand", "Stddev",
    "StddevPop", "StddevSamp", "Variance", "VariancePop", "Corr", "CovarPop", "CovarSamp",
)
_PASS_THROUGH = _named(
    "Paren", "Neg", "Round", "Floor", "Ceil", "Abs", "Sign", "Sum", "Min", "Max", "AnyValue",
    "Trunc",
)
_ANY_BRANCH = _named("Add", "Sub", "Mul", "Mod", "Coalesce", "Nullif", "Greatest", "Least")


def _is_float_literal(node: exp.Expression) -> bool:
    return (
        isinstance(node, exp.Literal)
        and node.is_number
        and any(c in str(node.this) for c in ".eE")
    )


def _is_statically_float(node: exp.Expression | None) -> bool:
    """Whether BigQuery would type ``node`` FLOAT64, judging from syntax alone."""
    if node is None:
        return False
    if node.type is not None and node.type.this in _FLOAT_TYPES:
        return True  # e.g. a resolved column whose type the caller declared
    if _is_float_literal(node):
        return True
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return node.to.this in _FLOAT_TYPES
    if isinstance(node, _FLOAT_FUNCTIONS):
        return True
    if isinstance(node, _PASS_THROUGH):
        return _is_statically_float(node.this)
    if isinstance(node, exp.If):
        branches = [node.args.get("true"), node.args.get("false")]
        return any(_is_statically_float(b) for b in branches)
    if isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs") or []]
        return any(_is_statically_float(b) for b in [*branches, node.args.get("default")])
    if isinstance(node, _ANY_BRANCH):
        return any(_is_statically_float(child) for child in node.iter_expressions())
    return False


def _is_timestamp_typed(node: exp.Expression) -> bool:
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return node.to.this in exp.DataType.TEMPORAL_TYPES - {exp.DataType.Type.DATE}
    return isinstance(
        node, _named("CurrentTimestamp", "CurrentDatetime", "TimestampTrunc", "DatetimeTrunc")
    )


def _rewrite(root: exp.Expression, fix: Callable[[exp.Expression], exp.Expression | None]):
    """Apply ``fix`` bottom-up (children first) to every node present before rewriting.

    ``fix`` returns a replacement node (which may contain the original node) or None.
    New nodes are not revisited, so a fix never applies twice to the same node.
    """
    for node in reversed(list(root.walk(bfs=False))):
        parent, arg_key, index = node.parent, node.arg_key, node.index
        if parent is None and node is not root:
            continue  # detached by an earlier replacement
        replacement = fix(node)
        if replacement is None or replacement is node:
            continue
        if parent is None:
            root = replacement
        else:
            parent.set(arg_key, replacement, index=index)
    return root


def _fix_generic(node: exp.Expression) -> exp.Expression | None:
    # FIX: SAFE_DIVIDE(a, b) -> (a / NULLIF(b, 0)).  sqlglot emits
    # CASE WHEN b <> 0 THEN a / b ELSE NULL END, which repeats the denominator; when b is
    # an inlined KPI the whole sub-query expression is duplicated (exponentially for nested
    # SAFE_DIVIDEs).  NULLIF gives the same result (NULL for b = 0 or NULL, float
    # division otherwise) on DuckDB and Spark.
    if isinstance(node, exp.SafeDivide):
        div = exp.Div(
            this=_paren(node.this),
            expression=exp.Nullif(this=node.expression, expression=exp.Literal.number(0)),
            typed=False,
            safe=False,
        )
        return exp.Paren(this=div)
    # FIX: DIV(a, b) -> ((a) // (b)).  sqlglot's DuckDB generator prints IntDiv as the
    # infix operator `a // b` without parentheses: DIV(1 + 5, 2) became `1 + 5 // 2` (= 3)
    # and 3 * DIV(10, 4) became `3 * 10 // 4` (= 7 instead of 6).
    if isinstance(node, exp.IntDiv):
        return exp.Paren(
            this=exp.IntDiv(this=_paren(node.this), expression=_paren(node.expression))
        )
    # FIX: 1.5 -> CAST(1.5 AS DOUBLE).  BigQuery types number literals with a decimal
    # point or exponent as FLOAT64; DuckDB and Spark type them DECIMAL, which leaks
    # Decimal values into results (ROUND(2.5), FLOOR(2.5), 1.5 * 2 return DECIMAL) and
    # changes arithmetic (exact decimal instead of floating point).
    if _is_float_literal(node) and not isinstance(
        node.parent, (exp.DataType, exp.DataTypeParam, exp.Interval)
    ):
        return exp.Cast(this=node, to=exp.DataType.build("DOUBLE"))
    return None


def _fix_duckdb(node: exp.Expression) -> exp.Expression | None:
    # FIX: DATE_ADD / DATE_SUB -> CAST(... AS DATE).  sqlglot emits `d + INTERVAL 'n' DAY`,
    # which DuckDB types TIMESTAMP; BigQuery's DATE_ADD/DATE_SUB return DATE.
    if isinstance(node, (exp.DateAdd, exp.DateSub)):
        return exp.Cast(this=node, to=exp.DataType.build("DATE"))
    # FIX: DATE_TRUNC(d, part) -> CAST(... AS DATE).  DuckDB's date_trunc on a DATE returns
    # TIMESTAMP, BigQuery's returns DATE.  Skipped for WEEK (sqlglot already casts) and
    # for arguments that are visibly TIMESTAMP/DATETIME.
    if isinstance(node, exp.DateTrunc):
        unit = node.args.get("unit")
        sunday_week = (
            isinstance(unit, (exp.Literal, exp.Var)) and unit.name.upper() == "WEEK"
        ) or (type(unit).__name__ == "WeekStart" and unit.name.upper() == "SUNDAY")
        if not sunday_week and not _is_timestamp_typed(node.this):
            return exp.Cast(this=node, to=exp.DataType.build("DATE"))
        return None
    if isinstance(node, exp.Extract):
        part = node.this
        part_name = part.name.upper() if isinstance(part, (exp.Var, exp.Literal)) else ""
        # FIX: EXTRACT(DAYOFWEEK ...) -> (EXTRACT(DAYOFWEEK ...) + 1).  BigQuery numbers
        # Sunday = 1 .. Saturday = 7, DuckDB Sunday = 0 .. Saturday = 6.
        if part_name == "DAYOFWEEK":
            return exp.Paren(this=exp.Add(this=node, expression=exp.Literal.number(1)))
        # FIX: EXTRACT(ISOWEEK ...) -> EXTRACT(WEEK ...).  DuckDB does not know ISOWEEK;
        # its WEEK is the ISO week.
        if part_name == "ISOWEEK":
            node.set("this", exp.var("WEEK"))
            return node
        # FIX: EXTRACT(WEEK ...) / EXTRACT(WEEK(MONDAY) ...) -> strftime %U / %W.
        # BigQuery WEEK counts Sunday-started (WEEK(MONDAY): Monday-started) weeks, days
        # before the first such day being week 0; DuckDB's WEEK is the ISO week.
        week_format = None
        if part_name == "WEEK":
            week_format = "%U"
        elif type(part).__name__ == "WeekStart" and part.name.upper() in ("SUNDAY", "MONDAY"):
            week_format = "%U" if part.name.upper() == "SUNDAY" else "%W"
        if week_format:
            return exp.Cast(
                this=exp.Anonymous(
                    this="STRFTIME",
                    expressions=[node.expression, exp.Literal.string(week_format)],
                ),
                to=exp.DataType.build("BIGINT"),
            )
        return None
    return None


def _integer_casts(tree: exp.Expression) -> list[exp.Expression]:
    return [
        node
        for node in tree.walk()
        if isinstance(node, (exp.Cast, exp.TryCast)) and node.to.this in exp.DataType.INTEGER_TYPES
    ]


def _fix_duckdb_integer_cast(node: exp.Expression) -> None:
    # FIX: CAST(x AS INT64) with a FLOAT64 x -> CAST(ROUND(x) AS BIGINT).  BigQuery rounds
    # halfway cases away from zero (2.5 -> 3, -2.5 -> -3); DuckDB's DOUBLE -> BIGINT cast
    # rounds half to even (2.5 -> 2).  Applied after placeholders are resolved, and only
    # when x is visibly FLOAT64 (see _is_statically_float: float literals, divisions,
    # AVG, FLOAT64 casts, ... or a resolved expression whose ``.type`` is DOUBLE/FLOAT):
    # DuckDB's ROUND does not accept strings, so it cannot be added blindly.
    if _is_statically_float(node.this):
        node.set("this", exp.Round(this=node.this))


_POST_FIXES: dict[str, Callable[[exp.Expression], None]] = {
    "duckdb": _fix_duckdb_integer_cast,
}


_DIALECT_FIXES: dict[str, tuple[Callable[[exp.Expression], exp.Expression | None], ...]] = {
    "duckdb": (_fix_generic, _fix_duckdb),
}


def _apply_fixes(tree: exp.Expression, dialect: str) -> exp.Expression:
    fixes = _DIALECT_FIXES.get(dialect, (_fix_generic,))

    def fix_all(node: exp.Expression) -> exp.Expression | None:
        current: exp.Expression = node
        changed = False
        for fix in fixes:
            result = fix(current)
            if result is not None:
                current, changed = result, True
                if result is not node:
                    break  # node was wrapped/replaced: later fixes see the original only
        return current if changed else None

    return _rewrite(tree, fix_all)


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def to_tree(
    parsed: ParsedExpression,
    resolve: Resolver,
    dialect: str = DEFAULT_DIALECT,
    *,
    on_aggregate: AggregateHook | None = None,
) -> exp.Expression:
    """The expression as a sqlglot tree for ``dialect``, placeholders resolved.

    ``resolve(namespace, name)`` is called once per distinct placeholder and must return
    a sqlglot expression (e.g. ``exp.column("amount_usd", table="e", quoted=True)`` or a
    whole sub-expression, which is parenthesised unless atomic).  Setting ``.type`` on the
    returned expression (``col.type = exp.DataType.build("DOUBLE")``) lets type-dependent
    fixes apply (``CAST(x AS INT64)`` rounding of FLOAT64 values).  ``on_aggregate(i, agg)``,
    if given, is called for each top-level aggregate of the expression (same order as
    :func:`find_aggregates`), after its placeholders were resolved, and returns its
    replacement (e.g. the aggregate restricted to a population).

    Dialect fixes are applied to the expression itself, not to what ``resolve`` returns,
    so resolved sub-expressions may themselves come from :func:`to_tree`.  Generate the
    result with the same ``dialect``.
    """
    tree = _apply_fixes(parsed.tree.copy(), dialect)
    aggregates = _top_level_aggregates(tree) if on_aggregate is not None else []
    post_fix = _POST_FIXES.get(dialect)
    casts = _integer_casts(tree) if post_fix is not None else []

    cache: dict[Placeholder, exp.Expression] = {}
    markers = [
        (node, index)
        for node in list(tree.walk())
        if (index := _marker_index(node, parsed._markers)) is not None
    ]
    for node, index in markers:
        placeholder = parsed.placeholders[index]
        if placeholder not in cache:
            value = resolve(placeholder.namespace, placeholder.name)
            if not isinstance(value, exp.Expression):
                raise TypeError(
                    f"resolve({placeholder.namespace!r}, {placeholder.name!r}) must return "
                    f"a sqlglot expression, got {type(value).__name__}"
                )
            cache[placeholder] = value
        replacement = _paren(cache[placeholder].copy())
        if node is tree:
            tree = replacement
        else:
            node.replace(replacement)

    if post_fix is not None:
        for cast in casts:  # the expression's own casts only, never resolved sub-trees
            post_fix(cast)

    for position, aggregate in enumerate(aggregates):
        # remember where the aggregate sits: the hook may re-parent it into its result
        parent, arg_key, index = aggregate.parent, aggregate.arg_key, aggregate.index
        replacement = on_aggregate(position, aggregate)  # type: ignore[misc]
        if not isinstance(replacement, exp.Expression):
            raise TypeError("on_aggregate must return a sqlglot expression")
        if replacement is aggregate:
            continue
        if parent is None:
            tree = replacement
        else:
            parent.set(arg_key, replacement, index=index)
    return tree


def render(
    parsed: ParsedExpression,
    resolve: Resolver,
    dialect: str = DEFAULT_DIALECT,
    *,
    on_aggregate: AggregateHook | None = None,
    pretty: bool = False,
) -> str:
    """SQL text of the expression for ``dialect`` (see :func:`to_tree`)."""
    tree = to_tree(parsed, resolve, dialect, on_aggregate=on_aggregate)
    return generate(tree, dialect, pretty=pretty)


def generate(
    tree: exp.Expression, dialect: str = DEFAULT_DIALECT, *, pretty: bool = False
) -> str:
    """Generate SQL for ``dialect``; constructs the dialect cannot express raise
    :class:`ExpressionError` instead of producing wrong SQL silently."""
    try:
        return tree.sql(dialect=dialect, pretty=pretty, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise ExpressionError(f"Cannot translate expression to {dialect}: {error}") from error
    except (KeyError, AttributeError, TypeError, ValueError) as error:
        # sqlglot generator bugs on unusual arguments, e.g. TRANSLATE on DuckDB
        raise ExpressionError(
            f"Cannot translate expression to {dialect}: sqlglot failed with "
            f"{type(error).__name__}: {error}"
        ) from error


def iter_placeholder_nodes(
    parsed: ParsedExpression,
) -> Iterator[tuple[exp.Expression, Placeholder]]:
    """(marker node, placeholder) pairs of ``parsed.tree``."""
    for node in parsed.tree.walk():
        index = _marker_index(node, parsed._markers)
        if index is not None:
            yield node, parsed.placeholders[index]
