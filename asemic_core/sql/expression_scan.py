"""Scanning a config expression before parsing: tokenize with sqlglot's BigQuery
tokenizer, find ``{placeholder}`` references, replace each by a unique marker, and
refuse statements and queries by their words."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from asemic_core.sql.expression_catalogue import (
    FROM_FUNCTIONS,
    KEYWORD_FUNCTIONS,
    QUERY_WORDS,
    SET_OPERATION_WORDS,
    STATEMENT_TOKEN_TYPES,
    STATEMENT_WORDS,
)
from asemic_core.sql.expression_model import SOURCE_DIALECT, ExpressionError, OffsetMap, Placeholder


# --------------------------------------------------------------------------------------
# Scanning: placeholders -> markers
# --------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_IDENT_CHAR_RE = re.compile(r"[A-Za-z0-9_]")

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
class ScanResult:
    substituted: str
    placeholders: list[Placeholder]
    spans: list[tuple[int, int]]
    markers: dict[str, int]
    offsets: OffsetMap


def _marker_prefix(text: str) -> str:
    prefix = "__asemic_ph_"
    counter = 0
    while prefix.lower() in text.lower():
        counter += 1
        prefix = f"__asemic_ph{counter}_"
    return prefix


def scan_text(text: str, namespaces: Collection[str | None] | None) -> ScanResult:
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
            if (word in STATEMENT_WORDS or kind in STATEMENT_TOKEN_TYPES) and not (
                word in KEYWORD_FUNCTIONS and is_call
            ):
                raise ExpressionError(
                    f"SQL statement keyword {token.text.upper()!s} is not allowed: an "
                    "expression must be a single scalar or aggregate expression "
                    "(no DDL/DML)",
                    token.start,
                )
            if word in QUERY_WORDS and kind != TokenType.VAR or word == "SELECT":
                raise ExpressionError(
                    f"Subqueries are not allowed ({word} found): an expression cannot "
                    "read other tables",
                    token.start,
                )
            if word in SET_OPERATION_WORDS:
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
                paren_owner and paren_owner[-1] in FROM_FUNCTIONS
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
    offsets = OffsetMap(len(text))
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
    return ScanResult("".join(substituted), placeholders, spans, markers, offsets)

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
