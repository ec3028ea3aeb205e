"""Rendering trees for the executing engine (one place that knows the dialect)."""

from __future__ import annotations

from sqlglot import exp

from asemic_core.sql.expressions import generate

ENGINE_DIALECT = "duckdb"


def render(tree: exp.Expression, dialect: str = ENGINE_DIALECT, pretty: bool = False) -> str:
    return generate(tree, dialect, pretty=pretty)


def render_once(tree: exp.Expression, dialect: str = ENGINE_DIALECT) -> str:
    """``render`` for a tree built to be rendered once (a job's model query): not copied first,
    the generator may rewrite it (the copy of a model query is ~10 ms)."""
    return generate(tree, dialect, copy=False)
