"""The facade: every verb the CLI and the app use, over one project directory."""

from __future__ import annotations

import json
import os
import tempfile
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import AliasChoices, BaseModel

from asemic_core.config import archive
from asemic_core.config.draft import DraftCheck, draft_target, id_issues, introduced_errors, write_draft_copy
from asemic_core.config.loader import ProjectFiles, load_project
from asemic_core.config.models import FILE_KINDS
from asemic_core.errors import AsemicError, ConfigError
from asemic_core.issues import Issue, Severity, sort_issues
from asemic_core.semantic.graph import DependencyGraph, build_graph
from asemic_core.semantic.model import ResolvedProject
from asemic_core.semantic.resolve import resolve
from asemic_core.validation import validate_files


@dataclass
class ValidationReport:
    issues: list[Issue] = field(default_factory=list)
    # "passed" (every check ran clean, no static error), "failed (...)", "not passed: ...",
    # "skipped: <why>"
    dry_run: str = "skipped"
    not_checked: list[str] = field(default_factory=list)  # "property:x", "kpi:y": blocked by an error

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """``OK: 0 errors, 2 warnings; dry run: passed``."""
        return (("OK: " if self.ok else "FAILED: ") + f"{_count(len(self.errors), 'error')}, "
                f"{_count(len(self.warnings), 'warning')}; dry run: {self.dry_run}")

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "dry_run": self.dry_run,
            "not_checked": self.not_checked,
            "issues": [i.to_dict() for i in self.issues],
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


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
        """The warehouse's path; a ``SparkCatalog`` when the events are Spark catalog tables."""
        files = files or self.files()
        if files.deployment is None:
            return None
        if files.deployment.model.warehouse.type == "spark_catalog":
            from asemic_core.backend.settings import SparkCatalog

            spark = self.engine_settings(files).spark
            return SparkCatalog(spark) if spark is not None else None
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
        settings = self.engine_settings(files) if files.deployment is not None else None
        spark = settings is not None and settings.spark is not None
        if warehouse is None or not (spark or warehouse.is_file() or warehouse.is_dir()):
            where = f" ({warehouse})" if warehouse else ""
            report.dry_run = f"skipped: warehouse not reachable{where}"
            return report
        from asemic_core.validation.dry_run import run_dry_run

        # On a Spark project the dry run compiles on Spark (it reads the events where the jobs do).
        result = run_dry_run(files, warehouse, issues, settings if spark else None)
        report.issues = sort_issues(list(dict.fromkeys(issues + result.issues)))
        report.dry_run = result.summary(sum(1 for i in issues if i.is_error))
        report.not_checked = result.not_run
        return report

    # -- the generated model ---------------------------------------------------------
    def check_event_draft(self, event_id: str, data: dict, *, new: bool, baseline: Iterable[Issue] = (),
                          dry_run: bool = True) -> DraftCheck:
        """Validate the project as it would be with event table ``event_id`` = ``data``
        (plain YAML data), in a scratch copy. ``new`` says the id must not exist yet;
        only errors beyond ``baseline`` (the current issues) count as introduced."""
        rel = draft_target(self.root, event_id)
        if new:
            problems = id_issues(self.root, event_id, rel)
            if problems:
                return DraftCheck(rel, problems, problems)
        with tempfile.TemporaryDirectory(prefix="asemic-draft-") as scratch:
            try:
                copy = write_draft_copy(self.root, Path(scratch), rel, data)
            except ConfigError as err:
                problem = Issue(rel, None, err.message, object_id=event_id, rule="write")
                return DraftCheck(rel, [problem], [problem])
            issues = Project(copy).validate(dry_run=dry_run).issues
        return DraftCheck(rel, issues, introduced_errors(baseline, issues))

    def model_dir(self, files: ProjectFiles | None = None) -> Path:
        files = files or self.files()
        relative = files.deployment.model.model.path if files.deployment else ".asemic/model"
        path = Path(relative)
        return path if path.is_absolute() else self.root / path

    def model_store(self, files: ProjectFiles | None = None, readonly: bool = False):
        """The model's files and state; ``readonly`` (plans, status, queries) writes nothing."""
        from asemic_core.storage.store import ModelStore

        files = files or self.files()
        settings = self.engine_settings(files)
        if settings.spark is not None:
            from asemic_core.backend.spark_store import SparkTableStore

            return ModelStore(self.model_dir(files), readonly=readonly, tables=SparkTableStore(settings.spark))
        return ModelStore(self.model_dir(files), readonly=readonly)

    def schema(self):
        from asemic_core.storage.schema import generate_schema

        return generate_schema(self.resolved())

    def plan_refresh(self):
        from asemic_core.jobs.plan import plan_refresh
        from asemic_core.jobs.writing import ensure_valid

        files = self.files()
        ensure_valid(validate_files(files))
        return plan_refresh(resolve(files), self._require_warehouse(files))

    def plan_update(self, kpis=None, properties=None):
        from asemic_core.jobs.plan import plan_update
        from asemic_core.jobs.writing import ensure_valid
        from asemic_core.jobs.service import check_job_args

        files = self.files()
        ensure_valid(validate_files(files))
        resolved = resolve(files)
        check_job_args(resolved, "update", {"kpis": kpis or [], "properties": properties or []})
        return plan_update(resolved, self.model_store(files, readonly=True), self._require_warehouse(files), kpis, properties)

    def plan_rewind(self, day_from, day_to):
        from asemic_core.jobs.plan import plan_rewind
        from asemic_core.jobs.writing import ensure_valid

        files = self.files()
        ensure_valid(validate_files(files))
        return plan_rewind(resolve(files), self.model_store(files, readonly=True), day_from, day_to)

    def jobs(self, limit: int = 50):
        store = self.model_store()
        store.jobs.mark_interrupted(store.lock.holder)
        return store.jobs.list(limit)

    def job(self, job_id: str):
        store = self.model_store()
        store.jobs.mark_interrupted(store.lock.holder)
        record = store.jobs.get(job_id)
        if record is None:
            raise AsemicError(f"no job {job_id!r} in this project (see the list of jobs)")
        return record, store.jobs.days(job_id), store.jobs.phases(job_id)

    def status(self):
        from asemic_core.storage.status import model_status

        files = self.files()
        return model_status(resolve(files), self.model_store(files, readonly=True))

    def _require_warehouse(self, files: ProjectFiles) -> Path:
        from asemic_core.backend.settings import SparkCatalog

        warehouse = self.warehouse_path(files)
        if isinstance(warehouse, SparkCatalog):
            return warehouse
        if warehouse is None or not (warehouse.is_file() or warehouse.is_dir()):
            raise AsemicError(f"the warehouse {warehouse} is not reachable")
        return warehouse

    def refresh(self, origin: str = "cli", reporter=None, job_id: str | None = None):
        from asemic_core.jobs.service import run_job

        return run_job(self, "refresh", {}, origin, reporter, job_id)

    def update(self, kpis: list[str] | None = None, properties: list[str] | None = None, origin: str = "cli",
               reporter=None, job_id: str | None = None):
        from asemic_core.jobs.service import run_job

        return run_job(self, "update", {"kpis": list(kpis or []), "properties": list(properties or [])}, origin,
                       reporter, job_id)

    def rewind(self, day_from, day_to, origin: str = "cli", reporter=None, job_id: str | None = None):
        from asemic_core.jobs.service import run_job

        return run_job(self, "rewind", {"from": str(day_from), "to": str(day_to)}, origin, reporter, job_id)

    # -- model versions ------------------------------------------------------------
    def history(self, limit: int | None = None):
        """Published model versions, newest first (``ModelVersion``: the job that made each)."""
        return self.model_store(readonly=True).history(limit)

    def restore(self, version: int, origin: str = "cli", job_id: str | None = None):
        """Publish model version ``version`` again, as a new version (itself undoable)."""
        from asemic_core.jobs.service import run_job

        return run_job(self, "restore", {"version": int(version)}, origin, None, job_id)

    def compact(self, origin: str = "cli", reporter=None, job_id: str | None = None):
        """Fold the column tables partial updates wrote into the daily table (jobs/compact.py)."""
        from asemic_core.jobs.service import run_job

        return run_job(self, "compact", {}, origin, reporter, job_id)

    def vacuum(self, keep_days: float = 7, origin: str = "cli", job_id: str | None = None):
        """Forget versions older than ``keep_days`` (never the published one) and delete the
        files no kept version references."""
        from asemic_core.jobs.service import run_job

        return run_job(self, "vacuum", {"keep_days": keep_days}, origin, None, job_id)

    def column_tables(self) -> dict[str, tuple[str, ...]]:
        """The published version's column tables, each with the columns it holds (partial
        updates of activity columns write them; ``compact`` folds them into the daily table)."""
        from asemic_core.storage.store import DAILY

        snapshot = self.model_store(readonly=True).snapshot(DAILY)
        return {o.snapshot.name: o.columns for o in snapshot.overrides} if snapshot is not None else {}

    def physical_tables(self):
        """The Delta tables of the published model version (``PhysicalTable``: versions, files, bytes)."""
        from asemic_core.storage.physical import physical_tables

        return physical_tables(self.model_store(readonly=True))

    def engine_settings(self, files: ProjectFiles | None = None):
        from asemic_core.backend.settings import engine_settings

        files = files or self.files()
        return engine_settings(files, self.root, self.model_dir(files))

    def source(self, files: ProjectFiles | None = None):
        """A reader of the model (the published version plus on-the-fly columns)."""
        from asemic_core.query.model_source import ModelSource

        files = files or self.files()
        if not files.ok:
            from asemic_core.errors import ConfigError

            raise ConfigError("the config has errors; fix them before querying", [i for i in files.issues if i.is_error])
        from asemic_core.backend.settings import engine_settings

        return ModelSource(resolve(files), self.model_store(files, readonly=True), self._require_warehouse(files),
                           engine_settings(files, self.root))  # readers spill outside the model directory

    def kpi_query(self, request, source=None):
        from asemic_core.query.kpi import run_kpi_query

        return run_kpi_query(source or self.source(), request)

    def property_values(self, property_id: str, date_from=None, date_to=None, source=None):
        from asemic_core.query.values import property_values

        return property_values(source or self.source(), property_id, date_from, date_to)

    def preview(self, draft, sample_users: int = 500, days: int = 28, source=None):
        """Evaluate an unsaved property/KPI on a sample of users, next to the saved definition."""
        from asemic_core.query.draft_preview import preview

        files = self.files()
        return preview(source or self.source(files), files, draft, sample_users, days)

    def write_catalog(self, resolved: ResolvedProject | None = None) -> Path:
        """Rewrite ``catalog.duckdb``: DuckDB views over the published model version."""
        from asemic_core.storage.duckdb_views import write_views

        return write_views(self.model_store(), resolved or self.resolved())

    # -- archives and schemas ------------------------------------------------------
    def export_zip(self, out: str | os.PathLike) -> list[str]:
        files = self.files()
        if files.deployment is None and files.entity is None:
            raise AsemicError(f"{self.root} is not an asemic project (no asemic.yml or userentity/config.yml)")
        return archive.export_zip(self.root, Path(out))

    def import_zip(self, path: str | os.PathLike) -> archive.ImportedIssues:
        self.root.mkdir(parents=True, exist_ok=True)
        return archive.import_zip(self.root, Path(path), lambda staged: Project(staged).validate().issues)


def _legacy_names(model: type[BaseModel]) -> dict[str, list[str]]:
    """Field name in the schema -> the other names it is accepted under (2024 Asemic)."""
    out: dict[str, list[str]] = {}
    for field_info in model.model_fields.values():
        alias = field_info.validation_alias
        if isinstance(alias, AliasChoices):
            names = [choice for choice in alias.choices if isinstance(choice, str)]
            if len(names) > 1:
                out[names[0]] = names[1:]
    return out


def _accept_legacy_names(schema: dict, model: type[BaseModel]) -> None:
    """Pydantic lists only the first of several accepted names; list the legacy ones too,
    so that files of the 2024 layout (which load) also pass editor linting."""
    classes = {cls.__name__: cls for cls in _model_classes(model)}
    targets = [(schema, model)] + [(body, classes[name]) for name, body in schema.get("$defs", {}).items()
                                   if name in classes]
    for body, cls in targets:
        properties = body.get("properties", {})
        for canonical, legacy in _legacy_names(cls).items():
            if canonical not in properties:
                continue
            for name in legacy:
                properties[name] = {**properties[canonical], "description": f"older Asemic name of '{canonical}'"}
            required = body.get("required", [])
            if canonical in required:
                required.remove(canonical)
                if not required:
                    body.pop("required")
                body.setdefault("allOf", []).append({"oneOf": [{"required": [n]} for n in [canonical, *legacy]]})


def _model_classes(model: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending: list[object] = [model]
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in found:
                continue
            found.append(item)
            pending.extend(f.annotation for f in item.model_fields.values())
        else:
            pending.extend(typing.get_args(item))
    return found


def write_json_schemas(out: str | os.PathLike) -> list[Path]:
    """One JSON Schema per file kind, for editor linting."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, model in FILE_KINDS.items():
        schema = model.model_json_schema(by_alias=True)
        _accept_legacy_names(schema, model)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema.setdefault("title", kind)
        path = out / f"{kind}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
