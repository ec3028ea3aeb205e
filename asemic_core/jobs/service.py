"""Running a job: validate, take the writer lock, log, run, record the outcome."""

from __future__ import annotations

import datetime as dt
import hashlib
import traceback

from asemic_core.backend.duckdb_executor import is_out_of_memory
from asemic_core.backend.settings import engine_settings
from asemic_core.collector import job_objects
from asemic_core.config.archive import config_files
from asemic_core.engine import spark_preflight
from asemic_core.errors import AsemicError, JobError
from asemic_core.jobs.days import columns_for
from asemic_core.jobs.incremental import run_partial, run_rewind, run_update, update_is_up_to_date
from asemic_core.jobs.writing import JobResult, ensure_valid
from asemic_core.progress import Reporter
from asemic_core.semantic.resolve import resolve
from asemic_core.validation import validate_files


def config_hash(project) -> str:
    digest = hashlib.sha256()
    for rel in config_files(project.root):
        digest.update(rel.as_posix().encode())
        digest.update((project.root / rel).read_bytes())
    return digest.hexdigest()[:16]


def _with_issues(err: AsemicError, shown: int = 5) -> str:
    """The error's message and, for a config error, its first issues (file, line, object, field)."""
    issues = [i for i in getattr(err, "issues", []) if i.is_error]
    if not issues:
        return err.message
    more = [f"... and {len(issues) - shown} more"] if len(issues) > shown else []
    return "\n".join([err.message, *(i.format() for i in issues[:shown]), *more])


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def check_job_args(resolved, kind: str, args: dict) -> None:
    """Refuse unknown KPIs/properties before anything is queued."""
    for kpi in args.get("kpis", []):
        if kpi not in resolved.kpis:
            raise JobError(f"unknown KPI {kpi!r}")
    for prop in args.get("properties", []):
        found = resolved.get_property(prop)
        if found is None or found.hidden:
            raise JobError(f"unknown property {prop!r}")


MODEL_JOBS = ("refresh", "update", "rewind", "compact")


def check_new_definitions(project, files, resolved, settings) -> None:
    """Refuse a job, before the model is opened, when a property whose definition the model
    does not hold yet (a new or edited column; every column of an empty model) does not
    compile against the warehouse or produces a type its data_type cannot hold: what
    ``config validate``'s dry run reports, checked for those properties only, so a job on an
    unchanged config pays nothing."""
    from asemic_core.storage.status import column_statuses
    from asemic_core.validation.dry_run import check_job_properties

    current = project.model_store(files, readonly=True).current()
    changed = {c.name for c in column_statuses(resolved, current) if c.state in ("new", "stale")}
    if changed:
        ensure_valid(check_job_properties(files, resolved, project.warehouse_path(files), changed, settings))


DEFAULT_KEEP_DAYS = 7.0


def result_message(kind: str, result: JobResult) -> str:
    if kind == "restore":
        return f"model version {result.version} restores version {result.phases.get('restored_from', 0):.0f}"
    if kind == "vacuum":
        return f"{result.phases.get('files_removed', 0):.0f} file(s) removed"
    if kind == "compact":
        return (f"{result.phases.get('column_tables', 0):.0f} column table(s) folded into the daily table "
                f"({result.phases.get('rows', 0):,.0f} activity rows written)")
    return f"{result.rows:,} rows over {len(result.days)} days"


def run_restore(project, files, store, job_id: str, number: int) -> JobResult:
    from asemic_core.storage.duckdb_views import write_views

    version = store.restore(job_id, number)
    if files.ok:
        write_views(store, resolve(files))
    return JobResult(job_id, "succeeded", [], {"restored_from": float(number)}, version=version.version)


def run_vacuum(store, job_id: str, keep_days: float) -> JobResult:
    if keep_days < 0:
        raise JobError("--keep-days must be 0 or more")
    removed, dropped = store.vacuum(keep_days)
    current = store.current()
    return JobResult(job_id, "succeeded", [], {"files_removed": float(removed), "versions_dropped": float(len(dropped))},
                     version=current.version if current else None)


def run_job(project, kind: str, args: dict | None = None, origin: str = "cli",
            reporter: Reporter | None = None, job_id: str | None = None) -> JobResult:
    """Run ``kind`` now in this process; the job log records it whatever happens.

    ``job_id`` names a record queued beforehand (by the launcher); otherwise one is created.
    """
    with job_objects():  # what the job loads is not frozen for the process's life (collector.py)
        return _run_job(project, kind, args, origin, reporter, job_id)


def _run_job(project, kind: str, args: dict | None, origin: str, reporter: Reporter | None,
             job_id: str | None) -> JobResult:
    files = project.files()
    resolved = None  # resolved once: validation, the checks and the job read the same (unchanged) objects
    try:
        if kind in MODEL_JOBS:
            resolved = resolve(files)
            ensure_valid(validate_files(files, resolved))
            check_job_args(resolved, kind, args or {})
            settings = engine_settings(files, project.root, project.model_dir(files))
            if settings.spark is not None:
                spark_preflight(project.warehouse_path(files), resolved, settings)
            if kind != "compact":
                check_new_definitions(project, files, resolved, settings)
    except AsemicError as err:
        if job_id is not None:  # the studio's job record: the issues too, not only their count
            project.model_store(files).jobs.finish(job_id, "failed", error=_with_issues(err))
        raise  # refused before the model directory is opened: nothing is written
    store = project.model_store(files)
    settings = engine_settings(files, project.root, store.root)
    warehouse = project.warehouse_path(files) if kind in MODEL_JOBS else None
    if kind == "update" and not (args or {}).get("kpis") and not (args or {}).get("properties"):
        reason = update_is_up_to_date(resolved, project.model_store(files, readonly=True), warehouse)
        if reason is not None:  # nothing to do: no job is logged, nothing is written
            if job_id is not None:  # queued by the app: its record says what happened
                store.jobs.finish(job_id, "succeeded", message=reason)
            return JobResult(job_id or "", "up to date", message=reason)
    if kind == "compact":
        from asemic_core.jobs.compact import nothing_to_compact

        reason = nothing_to_compact(project.model_store(files, readonly=True))
        if reason is not None:  # nothing to do: no job is logged, nothing is written
            if job_id is not None:
                store.jobs.finish(job_id, "succeeded", message=reason)
            return JobResult(job_id or "", "up to date", message=reason)
    with store.state.keep_open():  # one state connection for the job's log and publish
        return _run_logged(project, files, store, resolved, settings, warehouse, kind, args, origin, reporter, job_id)


def _run_logged(project, files, store, resolved, settings, warehouse, kind: str, args: dict | None, origin: str,
                reporter: Reporter | None, job_id: str | None) -> JobResult:
    """Log the job, take the writer lock, run it and record its outcome."""
    store.jobs.mark_interrupted(store.lock.holder)
    if job_id is None:
        job_id = store.jobs.create(kind, args or {}, config_hash(project), origin)
    try:
        store.lock.acquire(job_id)
    except AsemicError as err:
        store.jobs.finish(job_id, "failed", error=err.message)
        raise
    try:
        store.jobs.start(job_id)
        args = args or {}
        if kind == "refresh":
            from asemic_core.jobs.refresh import run_refresh  # not compiled by the other jobs' processes

            result = run_refresh(resolved, store, warehouse, job_id, reporter, settings)
        elif kind == "update" and (args.get("kpis") or args.get("properties")):
            targets = columns_for(resolved, args.get("kpis", []), args.get("properties", []))
            result = run_partial(resolved, store, warehouse, job_id, targets, reporter, settings)
        elif kind == "update":
            result = run_update(resolved, store, warehouse, job_id, reporter, settings)
        elif kind == "rewind":
            result = run_rewind(resolved, store, warehouse, job_id, _day(args["from"]), _day(args["to"]), reporter,
                                settings)
        elif kind == "compact":
            from asemic_core.jobs.compact import run_compact

            result = run_compact(resolved, store, warehouse, job_id, reporter, settings)
        elif kind == "restore":
            result = run_restore(project, files, store, job_id, int(args["version"]))
        elif kind == "vacuum":
            result = run_vacuum(store, job_id, float(args.get("keep_days", DEFAULT_KEEP_DAYS)))
        else:  # pragma: no cover - the CLI only offers known kinds
            raise AsemicError(f"unknown job kind {kind!r}")
        store.jobs.finish(job_id, "succeeded", message=result_message(kind, result))
        return result
    except AsemicError as err:
        store.jobs.finish(job_id, "failed", error=err.message)
        raise
    except KeyboardInterrupt:
        store.jobs.finish(job_id, "interrupted", error="interrupted by the user")
        raise
    except BaseException as err:
        if isinstance(err, Exception) and is_out_of_memory(err):
            message = (f"the job ran out of memory ({str(err).splitlines()[0]}); the model is unchanged. "
                       f"Close other programs or raise engine.memory_limit (now {settings.memory_limit})")
            store.jobs.finish(job_id, "failed", error=message)
            raise JobError(message) from None
        store.jobs.finish(job_id, "failed", error="".join(traceback.format_exception_only(err)).strip())
        raise
    finally:
        store.lock.release()
