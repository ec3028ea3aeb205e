"""Checks shared by every rule that reads a config expression."""

from __future__ import annotations

from asemic_core.sql.expressions import ExpressionError, parse_expression


def expression_problem(text: str | None, *, allow_aggregates: bool) -> str | None:
    """Why ``text`` is not a single safe scalar/aggregate expression, or None if it is."""
    if text is None:
        return None
    try:
        parse_expression(text, allow_aggregates=allow_aggregates)
    except ExpressionError as err:
        return err.message
    return None
