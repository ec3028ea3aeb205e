"""Config expressions: parse, validate and render BigQuery-flavoured SQL fragments.

Expressions in configs (SEMANTICS.md section 7) are BigQuery Standard SQL fragments with
``{placeholder}`` references:

* event property ``select``/``where`` and event table ``where``: ``{column}``;
* computed property ``select``: ``{prop_id}``;
* KPI ``select``/``where``: ``{property.x}`` and ``{kpi.k}``.

Modules: this one parses, analyses and renders; ``expression_scan`` finds the
placeholders; ``expression_checks`` refuses what an expression may not contain;
``expression_fixes`` holds the dialect fixes; ``expression_catalogue`` the functions,
words and node types each of them looks up; ``expression_model`` the parsed expression
and its errors.

Pipeline:

1. :func:`parse_expression` tokenizes the text with sqlglot's BigQuery tokenizer (so string
   literals, quoted identifiers and comments are recognised exactly as the parser will see
   them), replaces every placeholder by a unique identifier marker, parses the result with
   ``read="bigquery"`` and refuses anything that is not a single scalar or aggregate
   expression (statements, subqueries, table references, window functions, ...).
2. :func:`to_tree` / :func:`render` apply dialect fixes where sqlglot's BigQuery -> DuckDB
   translation is wrong (each one is explained by a ``# FIX:`` comment in
   ``expression_fixes``: ``fix_generic``, ``fix_duckdb`` and ``fix_duckdb_integer_cast``),
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

import functools
import re
from collections.abc import Collection, Iterator

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError

from asemic_core.sql.expression_catalogue import KPI_AGGREGATES
from asemic_core.sql.expression_checks import aggregate_name, check_expression, normalise_tree
from asemic_core.sql.expression_fixes import POST_FIXES, apply_fixes, integer_casts, parenthesised
from asemic_core.sql.expression_model import (
    DEFAULT_DIALECT,
    SOURCE_DIALECT,
    AggregateHook,
    ExpressionError,
    ParsedExpression,
    Placeholder,
    Resolver,
    marker_index,
    node_position,
)
from asemic_core.sql.expression_scan import ScanResult, scan_text

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

MAX_EXPRESSION_LENGTH = 20_000

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

    The result is shared by the calls with the same arguments (a process parses each
    expression of a config once: validation, then every statement built from it); it is
    read-only, as :class:`ParsedExpression` says.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"Expression must be a string, got {type(text).__name__}")
    return _parse_expression(text, allow_aggregates, None if namespaces is None else frozenset(namespaces))


@functools.lru_cache(maxsize=4096)
def _parse_expression(text: str, allow_aggregates: bool,
                      namespaces: frozenset[str | None] | None) -> ParsedExpression:
    if not text.strip():
        raise ExpressionError("Empty expression")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"Expression is too long ({len(text)} characters, at most "
            f"{MAX_EXPRESSION_LENGTH})"
        )

    scan = scan_text(text, namespaces)
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
    normalise_tree(parsed)
    check_expression(parsed)
    return parsed


def _parse_single(scan: ScanResult) -> exp.Expression:
    # The text is parsed inside parentheses (its own parentheses are balanced, checked by
    # scan_text) so that sqlglot parses an expression, never a statement: a leading keyword
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

def placeholders_in(parsed: ParsedExpression, node: exp.Expression) -> list[Placeholder]:
    """Placeholder occurrences inside ``node`` (a node of ``parsed.tree``), text order."""
    indexes = sorted(
        index
        for n in node.walk()
        if (index := marker_index(n, parsed._markers)) is not None
    )
    return [parsed.placeholders[i] for i in indexes]


def placeholders_outside_aggregates(parsed: ParsedExpression) -> list[Placeholder]:
    """Placeholder occurrences not enclosed by any aggregate call, in text order."""
    indexes = sorted(
        index
        for node in parsed.tree.dfs(prune=lambda n: isinstance(n, exp.AggFunc))
        if (index := marker_index(node, parsed._markers)) is not None
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
    tree = apply_fixes(parsed.tree.copy(), dialect)
    aggregates = _top_level_aggregates(tree) if on_aggregate is not None else []
    post_fix = POST_FIXES.get(dialect)
    casts = integer_casts(tree) if post_fix is not None else []

    cache: dict[Placeholder, exp.Expression] = {}
    markers = [
        (node, index)
        for node in list(tree.walk())
        if (index := marker_index(node, parsed._markers)) is not None
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
        replacement = parenthesised(cache[placeholder].copy())
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
    tree: exp.Expression, dialect: str = DEFAULT_DIALECT, *, pretty: bool = False, copy: bool = True
) -> str:
    """Generate SQL for ``dialect``; constructs the dialect cannot express raise
    :class:`ExpressionError` instead of producing wrong SQL silently. ``copy=False``: the
    generator may rewrite ``tree`` (a tree built for this one rendering, not kept)."""
    try:
        return tree.sql(dialect=dialect, pretty=pretty, unsupported_level=ErrorLevel.RAISE, copy=copy)
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
        index = marker_index(node, parsed._markers)
        if index is not None:
            yield node, parsed.placeholders[index]
