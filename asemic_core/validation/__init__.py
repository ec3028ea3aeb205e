"""Static validation: every rule of SEMANTICS.md, each returning issues with file and line.

Validation never raises for a user mistake and never writes a file.
"""

from __future__ import annotations

from asemic_core.config.loader import ProjectFiles
from asemic_core.issues import Issue, sort_issues
from asemic_core.semantic.graph import build_graph
from asemic_core.semantic.model import ResolvedProject
from asemic_core.semantic.resolve import resolve
from asemic_core.validation.context import Context
from asemic_core.validation.rules_events import check_events
from asemic_core.validation.rules_kpis import check_kpis
from asemic_core.validation.rules_properties import check_properties

RULES = (check_events, check_properties, check_kpis)


def validate_files(files: ProjectFiles, project: ResolvedProject | None = None) -> list[Issue]:
    """Load-time issues plus every static rule, sorted by file and line. ``project``:
    ``resolve(files)`` when the caller has it already (resolving is deterministic)."""
    project = project if project is not None else resolve(files)
    ctx = Context(files=files, project=project, graph=build_graph(project))
    issues = list(files.issues)
    for rule in RULES:
        issues.extend(rule(ctx))
    return sort_issues(list(dict.fromkeys(issues)))
