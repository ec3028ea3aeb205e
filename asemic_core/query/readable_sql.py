"""The SQL of a KPI query as a person reads and copies it: the model's tables by their view
names in the catalog (``"asemic_model"."daily"``) instead of the list of partition files the
engine reads, and indented.

The engine pins the files of one model version; the views of ``catalog.duckdb`` name the same
tables, so the readable SQL runs in any DuckDB client opened on the catalog.
"""

from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot import exp

from asemic_core.sql.render import ENGINE_DIALECT

SCAN_FUNCTIONS = ("read_parquet", "parquet_scan", "delta_scan", "read_csv")


def _scan_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.ReadParquet):
        return "read_parquet"
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in SCAN_FUNCTIONS:
        return str(node.this).lower()
    return None


def _table_of(paths: list[str], tables_dir: Path) -> str | None:
    """The model table a scan reads: the directory under ``tables_dir`` of its files."""
    names = set()
    for path in paths:
        try:
            names.add(Path(path).relative_to(tables_dir).parts[0])
        except (ValueError, IndexError):
            return None
    return names.pop() if len(names) == 1 else None


def readable_sql(sql: str, schema: str, model_dir: Path, header: list[str] | None = None) -> str:
    """``sql`` with every scan of model files replaced by its catalog view, pretty-printed,
    after ``header`` lines as SQL comments."""
    tables_dir = Path(model_dir) / "tables"
    try:
        tree = sqlglot.parse_one(sql, read=ENGINE_DIALECT)
    except sqlglot.errors.ParseError:
        return sql
    for node in list(tree.walk()):
        if _scan_name(node) is None:
            continue
        paths = [lit.this for lit in node.find_all(exp.Literal) if lit.is_string]
        table = _table_of(paths, tables_dir)
        if table is None:
            continue
        target = exp.Table(this=exp.to_identifier(table, quoted=True), db=exp.to_identifier(schema, quoted=True))
        holder = node.parent if isinstance(node.parent, exp.Table) else node
        alias = holder.args.get("alias") if isinstance(holder, exp.Table) else None
        if alias is not None:
            target.set("alias", alias)
        holder.replace(target)
    body = tree.sql(dialect=ENGINE_DIALECT, pretty=True)
    comments = "".join(f"-- {line}\n" for line in (header or []))
    return comments + body
