"""``asemic-cli``: the command line over the same facade the app uses.

Exit status: 0 success, 1 the user's input or config is wrong, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from asemic_core.errors import AsemicError, ConfigError
from asemic_core.issues import Issue
from asemic_core.progress import TerminalReporter
from asemic_core.project import Project, project_dir, write_json_schemas

EXIT_OK, EXIT_USER, EXIT_USAGE = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asemic-cli", description="asemic: product-analytics semantic layer studio")
    parser.add_argument("--project", metavar="DIR", help="project directory (default: $ASEMIC_PROJECT, else the current directory)")
    parser.add_argument("--origin", default="cli", help=argparse.SUPPRESS)  # who started a job: cli, app, scheduler
    parser.add_argument("--job-id", default=None, help=argparse.SUPPRESS)  # a job queued by the launcher
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)

    demo = groups.add_parser("demo", help="the demo game project").add_subparsers(dest="command", required=True)
    init = demo.add_parser("init", help="write a demo warehouse and starter config into DIR")
    init.add_argument("dir", metavar="DIR")
    init.add_argument("--users", type=_positive_int, default=3000, help="users registering over the period (default 3000)")
    init.add_argument("--days", type=_positive_int, default=90, help="days of data (default 90)")
    init.add_argument("--seed", type=_int, default=42, help="random seed; the same seed gives the same data (default 42)")
    init.add_argument("--force", action="store_true", help="overwrite an existing project in DIR")
    init.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                      help="duckdb (default): a DuckDB warehouse; spark: Parquet event tables and a config that "
                           "runs the model on Spark local[2]")
    init.set_defaults(handler=cmd_demo_init)

    config = groups.add_parser("config", help="check, export and import the config").add_subparsers(dest="command", required=True)
    validate = config.add_parser("validate", help="check every rule, then compile against the warehouse")
    validate.add_argument("--format", choices=["text", "json"], default="text")
    validate.add_argument("--no-dry-run", action="store_true", help="static checks only; do not open the warehouse")
    validate.set_defaults(handler=cmd_config_validate)
    schema = config.add_parser("schema", help="write a JSON Schema per file kind for editor linting")
    schema.add_argument("--out", required=True, metavar="DIR")
    schema.set_defaults(handler=cmd_config_schema)
    export = config.add_parser("export", help="zip asemic.yml and the userentity tree")
    export.add_argument("--out", required=True, metavar="FILE.zip")
    export.set_defaults(handler=cmd_config_export)
    imp = config.add_parser("import", help="replace the config by a zip archive, if the archive is valid")
    imp.add_argument("archive", metavar="FILE.zip")
    imp.set_defaults(handler=cmd_config_import)

    model = groups.add_parser("model", help="generate, materialize and inspect the data model").add_subparsers(
        dest="command", required=True)
    plan = model.add_parser("plan", help="what a job would do (days, tables, columns, reasons); changes nothing")
    plan.add_argument("job", choices=["refresh", "update", "rewind"])
    plan.add_argument("--kpi", action="append", default=[], metavar="ID", help="update: only what this KPI needs")
    plan.add_argument("--property", action="append", default=[], metavar="ID", help="update: only this property")
    plan.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD", help="rewind: first day")
    plan.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD", help="rewind: last day")
    plan.add_argument("--format", choices=["text", "json"], default="text")
    plan.set_defaults(handler=cmd_model_plan)
    refresh = model.add_parser("refresh", help="rebuild the whole model from the start date to the end date")
    refresh.set_defaults(handler=cmd_model_refresh)
    update = model.add_parser("update", help="incremental update; with --kpi/--property only their columns")
    update.add_argument("--kpi", action="append", default=[], metavar="ID")
    update.add_argument("--property", action="append", default=[], metavar="ID")
    update.set_defaults(handler=cmd_model_update)
    rewind = model.add_parser("rewind", help="recompute a range of days and every later day that depends on it")
    rewind.add_argument("--from", dest="date_from", type=_date, required=True, metavar="YYYY-MM-DD")
    rewind.add_argument("--to", dest="date_to", type=_date, required=True, metavar="YYYY-MM-DD")
    rewind.set_defaults(handler=cmd_model_rewind)
    status = model.add_parser("status", help="watermark, per-column coverage and stale columns")
    status.add_argument("--format", choices=["text", "json"], default="text")
    status.set_defaults(handler=cmd_model_status)
    from asemic_core.cli_versions import add_version_commands

    add_version_commands(model)

    prop = groups.add_parser("property", help="property values").add_subparsers(dest="command", required=True)
    values = prop.add_parser("values", help="logical-model values: entity_id, date, value")
    values.add_argument("id", metavar="ID")
    values.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD")
    values.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD")
    values.add_argument("--format", choices=["csv", "json"], default="csv")
    values.set_defaults(handler=cmd_property_values)

    kpi = groups.add_parser("kpi", help="KPI queries").add_subparsers(dest="command", required=True)
    query = kpi.add_parser("query", help="a KPI over a date range")
    query.add_argument("id", metavar="ID")
    query.add_argument("--from", dest="date_from", type=_date, required=True, metavar="YYYY-MM-DD")
    query.add_argument("--to", dest="date_to", type=_date, required=True, metavar="YYYY-MM-DD")
    query.add_argument("--x-axis", choices=["date", "cohort_day"], default="date")
    query.add_argument("--grain", choices=["day", "week", "month", "quarter", "year"], default="day")
    query.add_argument("--by", action="append", default=[], metavar="PROPERTY")
    query.add_argument("--filter", action="append", default=[], metavar="'PROPERTY OP VALUE'")
    query.add_argument("--format", choices=["csv", "json"], default="csv")
    query.set_defaults(handler=cmd_kpi_query)

    jobs = groups.add_parser("jobs", help="the job log").add_subparsers(dest="command", required=True)
    jobs_list = jobs.add_parser("list", help="recent jobs")
    jobs_list.add_argument("--limit", type=_positive_int, default=20)
    jobs_list.add_argument("--format", choices=["text", "json"], default="text")
    jobs_list.set_defaults(handler=cmd_jobs_list)
    jobs_show = jobs.add_parser("show", help="one job: arguments, status, per-day rows and durations, error")
    jobs_show.add_argument("job_id", metavar="JOB_ID")
    jobs_show.add_argument("--format", choices=["text", "json"], default="text")
    jobs_show.set_defaults(handler=cmd_jobs_show)

    scheduler = groups.add_parser("scheduler", help="run `model update` every incremental_update_frequency")
    scheduler.add_argument("--once", action="store_true", help="run one update if one is due, then exit (for cron)")
    scheduler.set_defaults(handler=cmd_scheduler)
    return parser


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: use YYYY-MM-DD (a real calendar day)") from None


def _print_issues(issues: Sequence[Issue], stream=None) -> None:
    stream = stream or sys.stdout
    for issue in issues:
        print(issue.format(), file=stream)


def cmd_demo_init(args, project: Project) -> int:
    from asemic_core.demo.dataset import DemoSpec
    from asemic_core.demo.project import init_demo

    spec = DemoSpec(users=args.users, days=args.days, seed=args.seed)
    counts = init_demo(args.dir, spec, reporter=TerminalReporter(), force=args.force, engine=args.engine)
    rows = sum(counts.values())
    print(f"Demo project written to {args.dir}: {spec.users} users over {spec.days} days, {rows:,} event rows.")
    print(f"Next: asemic-cli --project {args.dir} config validate")
    return EXIT_OK


def cmd_config_validate(args, project: Project) -> int:
    report = project.validate(dry_run=not args.no_dry_run)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        _print_issues(report.issues)
        print(report.summary())
    return EXIT_OK if report.ok else EXIT_USER


def cmd_config_schema(args, project: Project) -> int:
    for path in write_json_schemas(args.out):
        print(path)
    return EXIT_OK


def cmd_config_export(args, project: Project) -> int:
    names = project.export_zip(args.out)
    print(f"Exported {len(names)} file(s) to {args.out}")
    return EXIT_OK


def cmd_config_import(args, project: Project) -> int:
    issues = project.import_zip(args.archive)
    _print_issues(issues)
    print(f"Imported {args.archive} into {project.root}")
    for name in getattr(issues, "kept", []):
        print(f"Kept the project's {name}: the archive has none (an Asemic CLI export holds only userentity/)")
    return EXIT_OK


def cmd_model_plan(args, project: Project) -> int:
    if args.job == "refresh":
        plan = project.plan_refresh()
    elif args.job == "update":
        plan = project.plan_update(args.kpi, args.property)
    else:
        if args.date_from is None or args.date_to is None:
            print("error: model plan rewind needs --from and --to", file=sys.stderr)
            return EXIT_USAGE
        plan = project.plan_rewind(args.date_from, args.date_to)
    if args.format == "json":
        print(json.dumps(plan.to_dict(), indent=2, default=str))
    else:
        print(plan.describe())
    return EXIT_OK


def cmd_model_refresh(args, project: Project) -> int:
    result = project.refresh(origin=args.origin, reporter=TerminalReporter(), job_id=args.job_id)
    print(f"Job {result.job_id} succeeded: {result.rows:,} rows over {len(result.days)} days "
          f"({result.first_day} .. {result.last_day}) in {result.phases.get('total', 0):.1f}s")
    return EXIT_OK


def _job_summary(result) -> str:
    return (f"Job {result.job_id} succeeded: {result.rows:,} rows over {len(result.days)} days "
            f"({result.first_day} .. {result.last_day})")


def cmd_model_update(args, project: Project) -> int:
    result = project.update(args.kpi, args.property, origin=args.origin, reporter=TerminalReporter(), job_id=args.job_id)
    if result.status == "up to date":
        print(f"{result.message[0].upper()}{result.message[1:]}; nothing was written.")
    else:
        print(_job_summary(result))
    return EXIT_OK


def cmd_model_rewind(args, project: Project) -> int:
    result = project.rewind(args.date_from, args.date_to, origin=args.origin, reporter=TerminalReporter(),
                            job_id=args.job_id)
    print(_job_summary(result))
    return EXIT_OK


def _when(timestamp) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


def cmd_jobs_list(args, project: Project) -> int:
    jobs = project.jobs(args.limit)
    if args.format == "json":
        print(json.dumps([j.to_dict() for j in jobs], indent=2, default=str))
        return EXIT_OK
    if not jobs:
        print("No jobs yet.")
    for job in jobs:
        duration = f"{job.duration:.1f}s" if job.duration is not None else "-"
        print(f"{job.id:24} {job.kind:8} {job.status:11} {_when(job.created_at)}  {duration:>8}  {job.origin:9} "
              f"{job.error or job.message or ''}")
    return EXIT_OK


def cmd_jobs_show(args, project: Project) -> int:
    job, days, phases = project.job(args.job_id)
    if args.format == "json":
        print(json.dumps({**job.to_dict(), "days": [{"day": d, "rows": r, "seconds": s} for d, r, s in days],
                          "phases": dict(phases)}, indent=2, default=str))
        return EXIT_OK
    print(f"Job {job.id}: {job.kind} {json.dumps(job.args)} from {job.origin}")
    print(f"Status: {job.status} ({job.progress * 100:.0f}%)  created {_when(job.created_at)}  "
          f"started {_when(job.started_at)}  finished {_when(job.finished_at)}")
    print(f"Config hash: {job.config_hash}")
    if job.message:
        print(f"Message: {job.message}")
    if job.error:
        print(f"Error: {job.error}")
    for phase, seconds in phases:
        print(f"  {phase:20} {seconds:8.2f}s")
    if days:
        print("Days:")
        for day, rows, seconds in days:
            print(f"  {day}  {rows:>10,} rows  {seconds:7.3f}s")
    return EXIT_OK


def cmd_scheduler(args, project: Project) -> int:
    from asemic_core.jobs.scheduler import Scheduler

    scheduler = Scheduler(project, reporter=TerminalReporter())
    if args.once:
        outcome = scheduler.tick()
        print(outcome.describe())
        return EXIT_OK if outcome.status != "failed" else EXIT_USER
    scheduler.run_forever()
    return EXIT_OK


def cmd_model_status(args, project: Project) -> int:
    status = project.status()
    if args.format == "json":
        print(json.dumps(status.to_dict(), indent=2, default=str))
    else:
        print(status.describe())
    return EXIT_OK


def _write_frame(frame, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(frame.to_dicts(), default=str, indent=2))
    else:
        sys.stdout.write(frame.write_csv())


def _require_valid_config(project: Project) -> None:
    """A query reads the config's definitions: refuse it (exit 1, the issues listed) while
    the config has errors, as a job does."""
    from asemic_core.validation import validate_files

    errors = [i for i in validate_files(project.files()) if i.is_error]
    if errors:
        raise ConfigError(f"the config has {len(errors)} error(s); fix them before querying", errors)


def cmd_property_values(args, project: Project) -> int:
    _require_valid_config(project)
    frame = project.property_values(args.id, args.date_from, args.date_to)
    _write_frame(frame, args.format)
    return EXIT_OK


def cmd_kpi_query(args, project: Project) -> int:
    from asemic_core.query.filters import parse_filter
    from asemic_core.query.kpi import KpiRequest

    _require_valid_config(project)
    source = project.source()
    filters = [parse_filter(text, source.resolved) for text in args.filter]
    request = KpiRequest(args.id, args.date_from, args.date_to, args.x_axis, args.grain, list(args.by), filters)
    result = project.kpi_query(request, source)
    if args.format == "json":
        print(json.dumps(result.to_dict(), default=str, indent=2))
    else:
        sys.stdout.write(result.points.write_csv())
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable = args.handler
    try:
        return handler(args, Project(project_dir(args.project)))
    except ConfigError as err:
        print(f"error: {err.message}", file=sys.stderr)
        _print_issues(err.issues, sys.stderr)
        return EXIT_USER
    except AsemicError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (e.g. `| head`) went away
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
