"""Dialect fixes: tree transforms where sqlglot's BigQuery -> DuckDB translation is not
faithful (each explained by a ``# FIX:`` comment), applied before rendering."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from asemic_core.sql.expression_catalogue import (
    ANY_BRANCH,
    ATOMIC_NODES,
    CALL_LIKE,
    FLOAT_FUNCTIONS,
    FLOAT_TYPES,
    PASS_THROUGH,
    named_nodes,
)


# --------------------------------------------------------------------------------------
# Dialect fixes
# --------------------------------------------------------------------------------------


def parenthesised(node: exp.Expression) -> exp.Expression:
    """Wrap in parentheses unless the node is atomic for precedence purposes."""
    if isinstance(node, exp.Literal) and node.is_number and str(node.this).startswith("-"):
        return exp.Paren(this=node)
    if isinstance(node, ATOMIC_NODES) or isinstance(node, CALL_LIKE):
        return node
    return exp.Paren(this=node)

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
    if node.type is not None and node.type.this in FLOAT_TYPES:
        return True  # e.g. a resolved column whose type the caller declared
    if _is_float_literal(node):
        return True
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return node.to.this in FLOAT_TYPES
    if isinstance(node, FLOAT_FUNCTIONS):
        return True
    if isinstance(node, PASS_THROUGH):
        return _is_statically_float(node.this)
    if isinstance(node, exp.If):
        branches = [node.args.get("true"), node.args.get("false")]
        return any(_is_statically_float(b) for b in branches)
    if isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs") or []]
        return any(_is_statically_float(b) for b in [*branches, node.args.get("default")])
    if isinstance(node, ANY_BRANCH):
        return any(_is_statically_float(child) for child in node.iter_expressions())
    return False


def _is_timestamp_typed(node: exp.Expression) -> bool:
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return node.to.this in exp.DataType.TEMPORAL_TYPES - {exp.DataType.Type.DATE}
    return isinstance(
        node, named_nodes("CurrentTimestamp", "CurrentDatetime", "TimestampTrunc", "DatetimeTrunc")
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


def fix_generic(node: exp.Expression) -> exp.Expression | None:
    # FIX: SAFE_DIVIDE(a, b) -> (a / NULLIF(b, 0)).  sqlglot emits
    # CASE WHEN b <> 0 THEN a / b ELSE NULL END, which repeats the denominator; when b is
    # an inlined KPI the whole sub-query expression is duplicated (exponentially for nested
    # SAFE_DIVIDEs).  NULLIF gives the same result (NULL for b = 0 or NULL, float
    # division otherwise) on DuckDB and Spark.
    if isinstance(node, exp.SafeDivide):
        div = exp.Div(
            this=parenthesised(node.this),
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
            this=exp.IntDiv(this=parenthesised(node.this), expression=parenthesised(node.expression))
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


def fix_duckdb(node: exp.Expression) -> exp.Expression | None:
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


def integer_casts(tree: exp.Expression) -> list[exp.Expression]:
    return [
        node
        for node in tree.walk()
        if isinstance(node, (exp.Cast, exp.TryCast)) and node.to.this in exp.DataType.INTEGER_TYPES
    ]


def fix_duckdb_integer_cast(node: exp.Expression) -> None:
    # FIX: CAST(x AS INT64) with a FLOAT64 x -> CAST(ROUND(x) AS BIGINT).  BigQuery rounds
    # halfway cases away from zero (2.5 -> 3, -2.5 -> -3); DuckDB's DOUBLE -> BIGINT cast
    # rounds half to even (2.5 -> 2).  Applied after placeholders are resolved, and only
    # when x is visibly FLOAT64 (see _is_statically_float: float literals, divisions,
    # AVG, FLOAT64 casts, ... or a resolved expression whose ``.type`` is DOUBLE/FLOAT):
    # DuckDB's ROUND does not accept strings, so it cannot be added blindly.
    if _is_statically_float(node.this):
        node.set("this", exp.Round(this=node.this))


POST_FIXES: dict[str, Callable[[exp.Expression], None]] = {
    "duckdb": fix_duckdb_integer_cast,
}


_DIALECT_FIXES: dict[str, tuple[Callable[[exp.Expression], exp.Expression | None], ...]] = {
    "duckdb": (fix_generic, fix_duckdb),
}


def apply_fixes(tree: exp.Expression, dialect: str) -> exp.Expression:
    fixes = _DIALECT_FIXES.get(dialect, (fix_generic,))

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
