"""When text already written says what a model says: legacy key and tag spellings,
loose (model-level) and strict (data-level) equality, and adapting new values to the
spelling in the file."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import AliasChoices, BaseModel

from asemic_core.config import models as _models
from asemic_core.config.loader import LEGACY_ALIASES


# --------------------------------------------------------------------- equivalence

def _legacy_key_aliases() -> dict[str, tuple[str, ...]]:
    """canonical key -> legacy spellings, from the models' validation aliases."""
    found: dict[str, list[str]] = {key: list(aliases) for key, aliases in LEGACY_ALIASES.items()}
    for obj in vars(_models).values():
        if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
            continue
        for name, info in obj.model_fields.items():
            choices = info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else []
            for choice in choices:
                if isinstance(choice, str) and choice != name and choice not in found.setdefault(name, []):
                    found[name].append(choice)
    return {key: tuple(aliases) for key, aliases in found.items() if aliases}


_KEY_ALIASES = _legacy_key_aliases()
_CANONICAL_KEY = {alias: canonical for canonical, aliases in _KEY_ALIASES.items() for alias in aliases}
# Legacy tag names the models read as today's names (a tag list written with them is
# not "changed").
_TAG_ALIASES: dict[str, str] = {
    **getattr(_models, "_COLUMN_TAG_ALIASES", {}),
    **getattr(_models, "_TABLE_TAG_ALIASES", {}),
}
MISSING = object()


def equivalent(old: Any, new: Any, loose: bool) -> bool:
    """Is the text value ``old`` (plain data) an acceptable spelling of ``new``?

    Strict: same types, same values. Loose: also the spellings the models read the same
    way (``null`` vs ``{}``, an absent key vs ``null``, ``select: 1`` vs ``"1"``, legacy
    key and tag names). Loose results are always re-checked against the model.
    """
    if not loose:
        return strictly_equal(old, new)
    if old is None and (new is None or new == {}):
        return True
    if new is None and old == {}:
        return True
    if isinstance(old, dict) and isinstance(new, dict):
        o = _canonical_keys(old)
        n = _canonical_keys(new)
        if o is None or n is None:
            return False
        for key in set(o) | set(n):
            a, b = o.get(key, MISSING), n.get(key, MISSING)
            if a is MISSING or b is MISSING:
                if (b if a is MISSING else a) is None:
                    continue
                return False
            if not equivalent(a, b, True):
                return False
        return True
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(equivalent(a, b, True) for a, b in zip(old, new))
    if isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
        return False
    if isinstance(new, str) and isinstance(old, (bool, int, float)):
        return _models._expression_text(old) == new
    if isinstance(old, str) and isinstance(new, str):
        return old == new or _TAG_ALIASES.get(old) == new
    if isinstance(old, str) and isinstance(new, dt.date) and not isinstance(new, dt.datetime):
        return old.strip() == new.isoformat()  # `date_from: '2024-01-01'`
    if isinstance(old, str) != isinstance(new, str):
        return False
    return type(old) is type(new) and old == new if isinstance(old, dt.date) else old == new


def adapt_to_written(old: Any, new: Any, loose: bool) -> Any:
    """Give ``new`` the shape the file already uses when the models read both the same
    way: older files list event columns as ``- {id: x, data_type: ...}``."""
    if (
        loose
        and isinstance(old, list)
        and old
        and all(isinstance(item, dict) and "id" in item for item in old)
        and isinstance(new, dict)
        and all(isinstance(value, dict) and "id" not in value for value in new.values())
    ):
        return [{"id": key, **value} for key, value in new.items()]
    return new


def _canonical_keys(data: dict) -> dict | None:
    out: dict = {}
    for key, value in data.items():
        canon = _CANONICAL_KEY.get(key, key) if isinstance(key, str) else key
        if canon in out:
            return None
        out[canon] = value
    return out


def strictly_equal(old: Any, new: Any) -> bool:
    if type(old) is not type(new):
        return False
    if isinstance(old, dict):
        return old.keys() == new.keys() and all(strictly_equal(old[k], new[k]) for k in old)
    if isinstance(old, list):
        return len(old) == len(new) and all(strictly_equal(a, b) for a, b in zip(old, new))
    return bool(old == new)


def matching_key(mapping: Any, key: Any) -> Any:
    """The key of ``mapping`` that holds canonical ``key`` (itself or a legacy alias)."""
    if key in mapping:
        return key
    for alias in _KEY_ALIASES.get(key, ()) if isinstance(key, str) else ():
        if alias in mapping:
            return alias
    return None
