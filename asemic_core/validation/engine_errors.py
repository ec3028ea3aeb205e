"""The engine's compile errors in the analyst's words first, the engine's own words after
them (kept whole: they name the exact function and types, and a search finds them)."""

from __future__ import annotations

import re

# the engine's types as the data types of the config
ENGINE_TYPES = {"VARCHAR": "STRING", "BOOLEAN": "BOOLEAN", "DATE": "DATE", "TIMESTAMP": "DATETIME",
                "TIMESTAMP WITH TIME ZONE": "DATETIME", "TINYINT": "INTEGER", "SMALLINT": "INTEGER",
                "INTEGER": "INTEGER", "BIGINT": "INTEGER", "HUGEINT": "INTEGER", "FLOAT": "NUMBER",
                "DOUBLE": "NUMBER", "DECIMAL": "NUMBER"}
NO_MATCHING_FUNCTION = re.compile(r"No function matches the given name and argument types '(\w+)\(([^()]*)\)'")


def plain_compile_error(error: str) -> str:
    """``error`` led by what it means for the config, where the pattern is known: a function
    given values of a type it does not take ("SUM does not take STRING values")."""
    found = NO_MATCHING_FUNCTION.search(error)
    if found is None:
        return error
    kinds = [ENGINE_TYPES.get(arg.strip(), arg.strip()) for arg in found.group(2).split(",") if arg.strip()]
    if not kinds:
        return error
    return f"{found.group(1).upper()} does not take {' and '.join(dict.fromkeys(kinds))} values ({error})"
