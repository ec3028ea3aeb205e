"""Rendering trees for the executing engine (one place that knows the dialect)."""

from __future__ import annotations

from sqlglot import exp

from asemic_core.sql.expressions import generate

ENGINE_DIALECT = "duckdb"


def render(tree: exp.Expression, dialect: str = ENGINE_DIALECT, pretty: bool = False) -> str:
    return generate(tree, dialect, pretty=pretty)
