"""The facade: every verb the CLI and the app use, over one project directory."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from asemic_core.config import archive
from asemic_core.config.loader import ProjectFiles, load_project
from asemic_core.config.models import FILE_KINDS
from asemic_core.errors import AsemicError
from asemic_core.issues import Issue, Severity, sort_issues
from asemic_core.semantic.graph import DependencyGraph, build_graph
from asemic_core.semantic.model import ResolvedProject
from asemic_core.semantic.resolve import resolve
from asemic_core.validation import validate_files


@dataclass
class ValidationReport:
    issues: list[Issue] = field(default_factory=list)
    dry_run: str = "skipped"  # "passed", "failed", "skipped: <why>"

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "dry_run": self.dry_run,
            "issues": [i.to_dict() for i in self.issues],
        }


def project_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``--project``, else ``$ASEMIC_PROJECT``, else the current directory."""
    if explicit:
        return Path(explicit)
    if os.environ.get("ASEMIC_PROJECT"):
        return Path(os.environ["ASEMIC_PROJECT"])
    return Path.cwd()


class Project:
    """One project directory. Reads are cheap and always reflect the files on disk."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).resolve()

    # -- config -------------------------------------------------------------------
    def files(self) -> ProjectFiles:
        return load_project(self.root)

    def resolved(self) -> ResolvedProject:
        return resolve(self.files())

    def lineage(self) -> DependencyGraph:
        return build_graph(self.resolved())

    def warehouse_path(self, files: ProjectFiles | None = None) -> Path | None:
        files = files or self.files()
        if files.deployment is None:
            return None
        path = Path(files.deployment.model.warehouse.path)
        return path if path.is_absolute() else self.root / path

    def validate(self, dry_run: bool = True) -> ValidationReport:
        files = self.files()
        issues = validate_files(files)
        report = ValidationReport(issues=issues)
        if not dry_run:
            report.dry_run = "skipped: not requested"
            return report
        warehouse = self.warehouse_path(files)
        if warehouse is None or not warehouse.is_file():
            where = f" ({warehouse})" if warehouse else ""
            report.dry_run = f"skipped: warehouse not reachable{where}"
            return report
        from asemic_core.validation.dry_run import dry_run_issues

        found = dry_run_issues(files, warehouse)
        report.issues = sort_issues(issues + found)
        report.dry_run = "failed" if any(i.is_error for i in found) else "passed"
        return report

    # -- archives and schemas ------------------------------------------------------
    def export_zip(self, out: str | os.PathLike) -> list[str]:
        files = self.files()
        if files.deployment is None and files.entity is None:
            raise AsemicError(f"{self.root} is not an asemic project (no asemic.yml or userentity/config.yml)")
        return archive.export_zip(self.root, Path(out))

    def import_zip(self, path: str | os.PathLike) -> list[Issue]:
        self.root.mkdir(parents=True, exist_ok=True)
        return archive.import_zip(self.root, Path(path), lambda staged: Project(staged).validate().issues)


def write_json_schemas(out: str | os.PathLike) -> list[Path]:
    """One JSON Schema per file kind, for editor linting."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, model in FILE_KINDS.items():
        schema = model.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema.setdefault("title", kind)
        path = out / f"{kind}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
