"""``asemic-cli model history | restore | vacuum | compact``: published model versions as a
feature, and their upkeep."""

from __future__ import annotations

import datetime as dt
import json

EXIT_OK = 0


def _non_negative(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the number of days must be 0 or more")
    return value


def _version_number(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (see `asemic-cli model history`)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: versions are numbered from 1")
    return value


def add_version_commands(model) -> None:
    history = model.add_parser("history", help="published model versions and the job that made each")
    history.add_argument("--limit", type=int, default=None, metavar="N")
    history.add_argument("--format", choices=["text", "json"], default="text")
    history.set_defaults(handler=cmd_model_history)
    restore = model.add_parser("restore", help="publish an earlier model version again (itself a new version)")
    restore.add_argument("version", type=_version_number, metavar="VERSION")
    restore.set_defaults(handler=cmd_model_restore)
    vacuum = model.add_parser("vacuum", help="delete the files of versions older than --keep-days")
    vacuum.add_argument("--keep-days", type=_non_negative, default=7.0, metavar="N",
                        help="keep the versions of the last N days (default 7); the published one is always kept")
    vacuum.set_defaults(handler=cmd_model_vacuum)
    compact = model.add_parser("compact", help="fold the column tables partial updates wrote into the daily table "
                                               "(faster reads; no value changes)")
    compact.set_defaults(handler=cmd_model_compact)


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def cmd_model_history(args, project) -> int:
    versions = project.history(args.limit)
    if args.format == "json":
        print(json.dumps([v.to_dict() for v in versions], indent=2, default=str))
        return EXIT_OK
    if not versions:
        print("No model version yet: run `asemic-cli model refresh`.")
    for index, v in enumerate(versions):
        marks = " (published)" if index == 0 else "" if not v.vacuumed else " (vacuumed)"
        days = f"{v.day_from} .. {v.day_to}" if v.day_from else "-"
        what = f"restores version {v.restored_from}" if v.kind == "restore" else f"{v.rows:,} rows, {len(v.written)} column(s)"
        print(f"{v.version:>5}  {_when(v.created_at)}  {v.kind:8} {days:24} {what:34} {v.seconds:7.1f}s  "
              f"{v.job_id}{marks}")
    return EXIT_OK


def cmd_model_restore(args, project) -> int:
    result = project.restore(args.version, origin=args.origin, job_id=args.job_id)
    print(f"Job {result.job_id} succeeded: model version {result.version} restores version {args.version}")
    return EXIT_OK


def cmd_model_vacuum(args, project) -> int:
    result = project.vacuum(args.keep_days, origin=args.origin, job_id=args.job_id)
    print(f"Job {result.job_id} succeeded: {result.phases['files_removed']:.0f} file(s) removed, "
          f"{result.phases['versions_dropped']:.0f} version(s) no longer restorable")
    return EXIT_OK


def cmd_model_compact(args, project) -> int:
    from asemic_core.progress import TerminalReporter

    result = project.compact(origin=args.origin, reporter=TerminalReporter(), job_id=args.job_id)
    if result.status == "up to date":
        print(f"Nothing to compact: {result.message}")
        return EXIT_OK
    print(f"Job {result.job_id} succeeded: model version {result.version} folds "
          f"{result.phases['column_tables']:.0f} column table(s) into the daily table "
          f"({result.phases['rows']:,.0f} activity rows written in {result.phases['fold']:.1f} s)")
    return EXIT_OK
