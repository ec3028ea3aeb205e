"""The small exception tree of asemic.

User mistakes are reported as :class:`AsemicError` (or a child); the CLI and the app
catch exactly these and show their message. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asemic_core.issues import Issue


class AsemicError(Exception):
    """A problem caused by the user's input, config or environment."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(AsemicError):
    """The project configuration is invalid; carries every issue found."""

    def __init__(self, message: str, issues: list[Issue] | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues or [])


class WarehouseError(AsemicError):
    """The warehouse cannot be reached or does not hold what the config expects."""


class JobError(AsemicError):
    """A job cannot start or failed because of the user's request."""
