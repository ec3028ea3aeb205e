"""Checks of a parsed config expression: normalise (``COUNTD``, comments), then refuse
statements, queries, table references, parameters, window functions, nested or
forbidden aggregates and functions."""

from __future__ import annotations

from sqlglot import exp

from asemic_core.sql.expression_catalogue import (
    FORBIDDEN_FUNCTIONS,
    PARAMETER_NODES,
    QUERY_NODES,
    SAFE_FUNC,
    STATEMENT_NODES,
    TABLE_NODES,
    WINDOW_ONLY,
)
from asemic_core.sql.expression_model import SOURCE_DIALECT, ExpressionError, ParsedExpression, error_at, marker_index


def normalise_tree(parsed: ParsedExpression) -> None:
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
                raise error_at(
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


def check_expression(parsed: ParsedExpression) -> None:
    tree = parsed.tree
    if isinstance(tree, STATEMENT_NODES):
        raise error_at(parsed, f"{type(tree).__name__} statements are not allowed", tree)

    seen_markers: set[int] = set()
    for node in tree.walk(bfs=False):
        if isinstance(node, STATEMENT_NODES):
            raise error_at(parsed, "SQL statements (DDL/DML) are not allowed", node)
        if isinstance(node, QUERY_NODES):
            raise error_at(
                parsed, "Subqueries are not allowed: an expression cannot read other tables",
                node,
            )
        if isinstance(node, TABLE_NODES):
            raise error_at(parsed, "Table references are not allowed", node)
        if isinstance(node, exp.Window):
            raise error_at(parsed, "Window functions (OVER) are not allowed", node)
        if isinstance(node, WINDOW_ONLY):
            raise error_at(
                parsed,
                f"{function_name(node)} is a window function, which is not allowed",
                node,
            )
        if isinstance(node, PARAMETER_NODES):
            raise error_at(
                parsed,
                "Query parameters (@name, ?) are not allowed: use {placeholders}",
                node,
            )
        if isinstance(node, FORBIDDEN_FUNCTIONS):
            raise error_at(
                parsed, f"Function {function_name(node)} is not allowed in expressions", node
            )
        if isinstance(node, exp.UDTF) and not (
            isinstance(node, exp.Unnest) and isinstance(node.parent, exp.In)
        ):
            raise error_at(
                parsed,
                f"Table-valued function {function_name(node)} is not allowed",
                node,
            )
        if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
            name = str(node.this)
            if name.upper() in parsed._markers:
                raise error_at(parsed, "A placeholder cannot be used as a function name", node)
            raise error_at(
                parsed,
                f"Unknown function {name.upper()}: not a BigQuery function supported by "
                "the SQL translator",
                node,
            )
        if isinstance(node, SAFE_FUNC):
            raise error_at(parsed, "The SAFE. function prefix is not supported", node)
        if isinstance(node, exp.Filter):
            raise error_at(
                parsed,
                "FILTER clauses are not supported: use COUNTIF(...) or IF(...) inside the "
                "aggregate",
                node,
            )
        if isinstance(node, exp.Alias) and not isinstance(node.parent, exp.Struct):
            alias = node.args.get("alias")
            raise error_at(
                parsed,
                "Aliases (`expr AS name` or `expr name`) are not allowed in expressions",
                alias if isinstance(alias, exp.Expression) and "start" in alias.meta else node,
            )
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            raise error_at(parsed, "'*' is only allowed in COUNT(*)", node)
        if isinstance(node, exp.Column):
            index = marker_index(node, parsed._markers)
            if index is not None:
                seen_markers.add(index)
            elif node.table:
                raise error_at(
                    parsed,
                    f"Reference to table column {node.sql(SOURCE_DIALECT)} is not allowed: "
                    "expressions may only use {placeholders}",
                    node,
                )
            elif isinstance(node.this, exp.Star):
                raise error_at(parsed, "'*' is only allowed in COUNT(*)", node)
            else:
                raise error_at(
                    parsed,
                    f"Unknown name {node.name!r}: reference columns and properties as "
                    f"{{{node.name}}}",
                    node,
                )
        if isinstance(node, exp.AggFunc):
            if not parsed.allow_aggregates:
                raise error_at(
                    parsed,
                    f"Aggregate function {aggregate_name(node)} is not allowed here "
                    "(only a scalar expression is expected)",
                    node,
                )
            outer = node.find_ancestor(exp.AggFunc)
            if outer is not None:
                raise error_at(
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


def function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper()
    meta_name = node.meta.get("bigquery_name")
    if meta_name:
        return str(meta_name).upper()
    if isinstance(node, exp.Func):
        return node.sql_name()
    return type(node).__name__.upper()

def aggregate_name(node: exp.Expression) -> str:
    """Upper-case name of an aggregate: SUM, AVG, COUNT, COUNTD (COUNT DISTINCT), MIN,
    MAX, or the function's BigQuery name (COUNTIF, ANY_VALUE, ...)."""
    if isinstance(node, exp.Count):
        return "COUNTD" if isinstance(node.this, exp.Distinct) else "COUNT"
    simple = {exp.Sum: "SUM", exp.Avg: "AVG", exp.Min: "MIN", exp.Max: "MAX"}
    for cls, name in simple.items():
        if type(node) is cls:
            return name
    return function_name(node)
