"""The one rule for names that reach SQL or a path, and the helpers that quote them.

Every id of the config (events, properties, KPIs), the model schema and the 2024
``base_table_prefix`` are checked against :data:`RULE` when a project is loaded, so a
bad name is reported at its file and line with a suggested fix. Independently of that
check, every name is quoted and every value or path is a string literal when SQL is
rendered (``quote_name``, ``sql_string``, ``sql_string_list``): a name that slipped past
validation still cannot change a statement.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlglot import exp

from asemic_core.issues import Issue

MAX_NAME_LENGTH = 128
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A templated KPI id carries one `{}` slot that each template value fills.
KPI_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\{\}[A-Za-z0-9_]*)?")
RULE = f"letters, digits and _ only, not starting with a digit, at most {MAX_NAME_LENGTH} characters"
RULE_NAME = "identifier"
_DIALECT = "duckdb"


def identifier_problem(name: Any, *, template_slot: bool = False) -> str | None:
    """Why ``name`` breaks the rule, or None when it follows it."""
    if not isinstance(name, str):
        return f"{name!r} is not a name: use {RULE}"
    pattern = KPI_ID_RE if template_slot else IDENTIFIER_RE
    slot = " (plus one '{}' template slot)" if template_slot else ""
    if len(name) > MAX_NAME_LENGTH:
        return f"{_short(name)} is {len(name)} characters long: use {RULE}{slot}; for example {suggest_name(name)!r}"
    if not pattern.fullmatch(name):
        return f"{name!r} is not a valid name: use {RULE}{slot}; for example {suggest_name(name, template_slot)!r}"
    return None


def suggest_name(name: Any, template_slot: bool = False) -> str:
    """A name that follows the rule and stays close to ``name`` (``a"b`` -> ``a_b``)."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    parts = text.split("{}", 1) if template_slot else [text]
    cleaned = [re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", part)) for part in parts]
    out = "{}".join(cleaned).strip("_") or "name"
    if out[0].isdigit() or out.startswith("{}"):
        out = "_" + out
    return out[:MAX_NAME_LENGTH]


def check_name(value: Any) -> Any:
    """Pydantic validator form of the rule (raises ValueError with the precise message)."""
    problem = identifier_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_dotted_name(value: Any, max_parts: int | None = None) -> Any:
    """``schema.prefix`` or a column path ``level_started.level``: each part follows the rule."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a name: use {RULE}")
    parts = value.split(".")
    if max_parts is not None and len(parts) > max_parts:
        raise ValueError(f"{value!r} has {len(parts)} dotted parts; at most {max_parts} are allowed")
    for part in parts:
        problem = identifier_problem(part)
        if problem:
            fix = ".".join(suggest_name(p) for p in parts)
            raise ValueError(f"{_short(value)} is not a valid dotted name: each part must use {RULE}; "
                             f"for example {fix!r}")
    return value


def _short(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:37] + "...")


def name_issues(files: Any) -> list[Issue]:
    """Issues for every event, property and KPI id of a loaded project that breaks the rule."""
    issues = []
    for kind, collection, template in (("event", files.events, False), ("property", files.properties, False),
                                       ("KPI", files.kpis, True)):
        for object_id, located in collection.items():
            problem = identifier_problem(object_id, template_slot=template)
            if problem:
                issues.append(Issue(located.file, located.line, f"{kind} id {problem}", object_id=object_id,
                                    field="id", rule=RULE_NAME))
    return issues


# ---------------------------------------------------------------- rendering helpers


def quote_name(name: str) -> str:
    """``name`` as a quoted SQL identifier (``a"b`` -> ``"a""b"``)."""
    return exp.to_identifier(name, quoted=True).sql(_DIALECT)


def quote_names(names: Iterable[str], table: str | None = None) -> str:
    """Comma-separated quoted identifiers, each qualified by ``table`` when given."""
    prefix = f"{quote_name(table)}." if table else ""
    return ", ".join(prefix + quote_name(name) for name in names)


def sql_string(value: Any) -> str:
    """``value`` (text, a path, a day) as a SQL string literal, quotes escaped."""
    return exp.Literal.string(str(value)).sql(_DIALECT)


def sql_string_list(values: Iterable[Any]) -> str:
    """A SQL list of string literals: ``['a', 'b''c']`` (paths for ``read_parquet``)."""
    return "[" + ", ".join(sql_string(v) for v in values) + "]"


def quoted_table(dotted: str) -> exp.Table:
    """``schema.table`` (or ``catalog.schema.table``) as a table node with every part quoted."""
    parts = dotted.split(".")
    table = parts[-1]
    db = parts[-2] if len(parts) >= 2 else None
    catalog = ".".join(parts[:-2]) if len(parts) >= 3 else None
    return exp.table_(table, db, catalog, quoted=True)
