"""What every validation rule receives, and helpers to place an issue precisely."""

from __future__ import annotations

from dataclasses import dataclass

from asemic_core.config.loader import Located, ProjectFiles
from asemic_core.issues import Issue, Severity
from asemic_core.semantic.graph import DependencyGraph
from asemic_core.semantic.model import ResolvedProject, ResolvedProperty


@dataclass
class Context:
    files: ProjectFiles
    project: ResolvedProject
    graph: DependencyGraph

    def failed(self, kind: str, name: str) -> bool:
        """``name`` is written in the config but failed to load (its own issues say why),
        so a reference to it is not reported again as unknown."""
        from asemic_core.semantic.placeholders import canonical_property_name

        names = {name, canonical_property_name(name)} if kind == "properties" else {name}
        return bool(names & self.files.failed[kind])


def issue_at(located: Located | None, message: str, *fields: str | int, object_id: str | None = None,
             rule: str, severity: Severity = Severity.ERROR) -> Issue:
    """An issue on ``located`` at the line of ``fields`` (canonical names; aliases found)."""
    if located is None:
        return Issue(None, None, message, object_id=object_id, field=".".join(map(str, fields)) or None,
                     severity=severity, rule=rule)
    return Issue(
        located.file, located.field_line(*fields), message,
        object_id=object_id if object_id is not None else located.id,
        field=".".join(str(f) for f in fields) or None, severity=severity, rule=rule,
    )


def property_issue(prop: ResolvedProperty, message: str, *fields: str | int, rule: str,
                   severity: Severity = Severity.ERROR) -> Issue:
    """An issue on a property field; inline sources are placed inside their parent."""
    object_id = prop.parent or prop.id
    return issue_at(prop.located, message, *(prop.field_prefix + fields), object_id=object_id, rule=rule,
                    severity=severity)
