"""Validation issues: what is wrong, where (file, line), on which object and field."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Issue:
    """One problem found in a project. ``file`` is relative to the project root."""

    file: str | None
    line: int | None
    message: str
    object_id: str | None = None
    field: str | None = None
    severity: Severity = Severity.ERROR
    rule: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        if self.file is None:
            return "<project>"
        return f"{self.file}:{self.line}" if self.line else self.file

    def format(self) -> str:
        subject = ""
        if self.object_id:
            # An id with a line break or a control character is shown escaped: one issue, one line.
            shown = self.object_id if self.object_id.isprintable() else repr(self.object_id)
            subject = f" [{shown}" + (f".{self.field}" if self.field else "") + "]"
        elif self.field:
            subject = f" [{self.field}]"
        return f"{self.location()}: {self.severity.value}{subject}: {self.message}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


def sort_issues(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.file or "", i.line or 0, i.object_id or "", i.field or "", i.message))
