"""Catalogues of what config expressions may and may not contain: statement and query
words, statement token types, sqlglot node classes (statements, tables, window-only and
forbidden functions, call-like nodes), float-typed functions, and the aggregations a KPI
may use. The scanner, the checks and the dialect fixes look names up here."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType


#: Aggregations a KPI ``select`` may use (names as returned by :func:`aggregate_name`;
#: ``COUNTD`` is ``COUNT(DISTINCT x)``).
KPI_AGGREGATES: frozenset[str] = frozenset({"SUM", "AVG", "COUNT", "COUNTD", "MIN", "MAX"})

# Words that start a statement (DDL/DML/utility).  Refused as bare words anywhere outside
# string literals / quoted identifiers / placeholders.
STATEMENT_WORDS = frozenset(
    {
        "CREATE", "DROP", "INSERT", "UPDATE", "DELETE", "MERGE", "ALTER", "TRUNCATE",
        "ATTACH", "DETACH", "COPY", "PRAGMA", "CALL", "EXPORT", "IMPORT", "INSTALL", "LOAD",
        "GRANT", "REVOKE", "VACUUM", "CHECKPOINT", "EXECUTE", "EXEC", "DECLARE", "BEGIN",
        "COMMIT", "ROLLBACK", "USE", "SET", "UPSERT", "ANALYZE", "DESCRIBE",
        "SHOW", "SUMMARIZE",
    }
)
QUERY_WORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
SET_OPERATION_WORDS = frozenset({"UNION", "INTERSECT", "EXCEPT", "MINUS"})
# Functions sqlglot's tokenizer classifies as statement keywords (REPEAT: scripting loop).
KEYWORD_FUNCTIONS = frozenset({"REPEAT"})
# Functions whose argument syntax legitimately contains FROM.
FROM_FUNCTIONS = frozenset({"EXTRACT"})

STATEMENT_TOKEN_TYPES = frozenset(
    getattr(TokenType, name)
    for name in (
        "CREATE", "DROP", "INSERT", "UPDATE", "DELETE", "MERGE", "ALTER", "TRUNCATE",
        "COPY", "PRAGMA", "COMMAND", "EXPORT", "ATTACH", "DETACH", "USE", "GRANT",
        "REVOKE", "SET", "DESCRIBE", "SHOW", "SUMMARIZE", "INSTALL", "LOAD", "EXECUTE",
        "DECLARE", "BEGIN", "COMMIT", "ROLLBACK", "CACHE", "UNCACHE", "REFRESH",
    )
    if hasattr(TokenType, name)
)

def named_nodes(*names: str) -> tuple[type, ...]:
    return tuple(getattr(exp, name) for name in names if hasattr(exp, name))


STATEMENT_NODES = named_nodes(
    "DDL", "DML", "Command", "Create", "Drop", "Insert", "Update", "Delete", "Merge",
    "Alter", "TruncateTable", "Copy", "Pragma", "Attach", "Detach", "Export", "Use", "Set",
    "Transaction", "Commit", "Rollback", "Describe", "Show", "Cache", "Uncache", "LoadData",
    "Grant", "Revoke", "Install", "Summarize", "Declare", "Execute",
)
QUERY_NODES = named_nodes("Query", "Subquery", "Exists", "Select", "SetOperation", "Values")
TABLE_NODES = named_nodes("Table", "From", "Join", "Lateral", "TableFromRows")
# Known functions that read files/secrets or produce tables.
FORBIDDEN_FUNCTIONS = named_nodes(
    "ReadCSV", "ReadParquet", "ToFile", "Secret", "GenerateTable", "JSONTable", "XMLTable",
    "SplitToTable", "StrtokSplitToTable",
)
PARAMETER_NODES = named_nodes("Parameter", "Placeholder", "SessionParameter")
WINDOW_ONLY = named_nodes(
    "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist", "Ntile", "Lag", "Lead",
    "FirstValue", "LastValue", "NthValue",
)
SAFE_FUNC = named_nodes("SafeFunc")
ATOMIC_NODES = (exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Paren)
# Nodes every target dialect prints as a self-delimited call (NAME(...), CAST(...),
# CASE ... END), so they need no extra parentheses as operands.
CALL_LIKE = (exp.AggFunc, exp.Anonymous, *named_nodes(
    "Cast", "TryCast", "Case", "If", "Coalesce", "Nullif", "Abs", "Round", "Floor", "Ceil",
    "Lower", "Upper", "Length", "Substring", "DateDiff", "Extract", "Greatest", "Least",
    "Sqrt", "Ln", "Exp", "CurrentDate", "CurrentTimestamp",
))

FLOAT_TYPES = {
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
}
FLOAT_FUNCTIONS = named_nodes(
    "Div", "SafeDivide", "Avg", "Sqrt", "Ln", "Log", "Exp", "Pow", "Rand", "Stddev",
    "StddevPop", "StddevSamp", "Variance", "VariancePop", "Corr", "CovarPop", "CovarSamp",
)
PASS_THROUGH = named_nodes(
    "Paren", "Neg", "Round", "Floor", "Ceil", "Abs", "Sign", "Sum", "Min", "Max", "AnyValue",
    "Trunc",
)
ANY_BRANCH = named_nodes("Add", "Sub", "Mul", "Mod", "Coalesce", "Nullif", "Greatest", "Least")
