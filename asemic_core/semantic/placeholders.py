"""The ``{name}`` / ``{namespace.name}`` references inside config expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass

# `{name}`, `{namespace.name}`, or a nested STRUCT path `{level_started.timing.secs}`
# (namespace `level_started`, name `timing.secs`).
PLACEHOLDER_RE = re.compile(
    r"\{\s*([A-Za-z_][A-Za-z0-9_]*)((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*\}")

# Names that older Asemic configs use for the same base property.
PROPERTY_NAME_ALIASES = {"first_appearance_date": "registration_date", "asemic_date": "date"}


@dataclass(frozen=True)
class Reference:
    namespace: str | None  # "property", "kpi" or None for a bare {name}
    name: str
    start: int  # character offset of "{" in the expression


def match_parts(match: re.Match) -> tuple[str, str | None]:
    """(first name, the rest of the dotted path or None) of a PLACEHOLDER_RE match."""
    rest = match.group(2)
    return match.group(1), (".".join(part.strip() for part in rest.split(".")[1:]) if rest else None)


def references(text: str | None) -> list[Reference]:
    if not text:
        return []
    out = []
    for match in PLACEHOLDER_RE.finditer(text):
        first, second = match_parts(match)
        if second is None:
            out.append(Reference(None, first, match.start()))
        else:
            out.append(Reference(first, second, match.start()))
    return out


def canonical_property_name(name: str) -> str:
    return PROPERTY_NAME_ALIASES.get(name, name)


def substitute_template(text: str | None, value: object) -> str | None:
    """Replace the template slot ``{}`` with ``value`` (placeholders are left alone)."""
    if text is None:
        return None
    return text.replace("{}", str(value))
