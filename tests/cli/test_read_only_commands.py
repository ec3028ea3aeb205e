"""`config validate`, `model plan`, `model status` and queries change no file under the
project: no file appears, disappears or changes (bytes and mtime), before and after the
first job. Compared on the tree, not by making it read-only: root ignores permissions."""

from __future__ import annotations

import json
import re

import pytest

from asemic_core.cli import EXIT_OK, EXIT_USER, main
from asemic_core.project import Project

PLAN_REWIND = ["model", "plan", "rewind", "--from", "2026-01-02", "--to", "2026-01-03"]
READS = [
    (["config", "validate"], EXIT_OK),
    (["config", "validate", "--format", "json"], EXIT_OK),
    (["model", "plan", "refresh"], EXIT_OK),
    (["model", "plan", "update", "--format", "json"], EXIT_OK),
    (["model", "plan", "update", "--property", "revenue_on_day"], EXIT_OK),
    (PLAN_REWIND, EXIT_OK),
    (["model", "status"], EXIT_OK),
]


def _run(capsys, root, argv) -> tuple[int, str]:
    code = main(["--project", str(root), *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def test_reads_before_the_first_job_create_nothing(project_dw, capsys):
    before = project_dw.snapshot()
    outcomes = {" ".join(argv): _run(capsys, project_dw.root, argv)[0] for argv, _ in READS}
    assert outcomes == {
        "config validate": EXIT_OK, "config validate --format json": EXIT_OK, "model plan refresh": EXIT_OK,
        # no model yet: the plans of incremental jobs say so (exit 1), and create no state
        "model plan update --format json": EXIT_USER, "model plan update --property revenue_on_day": EXIT_USER,
        " ".join(PLAN_REWIND): EXIT_USER, "model status": EXIT_OK,
    }
    assert project_dw.snapshot() == before
    assert not project_dw.path(".asemic").exists()


def test_status_before_the_first_job_says_so(project_dw, capsys):
    code, out = _run(capsys, project_dw.root, ["model", "status"])
    assert code == EXIT_OK
    assert out.splitlines()[0] == "The model has not been materialized yet: run `asemic-cli model refresh`."


@pytest.fixture
def refreshed(project_dw):
    Project(project_dw.root).refresh(origin="test")
    return project_dw


@pytest.mark.parametrize(("argv", "expected"), READS, ids=[" ".join(a) for a, _ in READS])
def test_reads_after_a_job_change_nothing(refreshed, capsys, argv, expected):
    before = refreshed.snapshot()
    code, out = _run(capsys, refreshed.root, argv)
    assert code == expected, out
    assert refreshed.snapshot() == before


def test_queries_change_nothing(refreshed, capsys):
    before = refreshed.snapshot()
    code, _ = _run(capsys, refreshed.root, ["property", "values", "cohort_day", "--from", "2026-01-01",
                                            "--to", "2026-01-01"])
    assert code == EXIT_OK
    assert refreshed.snapshot() == before


def test_validate_of_a_broken_config_changes_nothing(project_dw, capsys):
    project_dw.replace("userentity/properties/activity.yml", "source_event: session\n",
                       "source_event: sessionz\n")
    before = project_dw.snapshot()
    code, out = _run(capsys, project_dw.root, ["config", "validate"])
    assert code == EXIT_USER and "sessionz" in out
    assert project_dw.snapshot() == before


def test_an_update_with_nothing_to_do_says_so_and_writes_nothing(refreshed, capsys):
    refreshed.replace("userentity/config.yml", "lookback_days: 2", "lookback_days: 0")
    before = refreshed.snapshot()
    code, out = _run(capsys, refreshed.root, ["model", "plan", "update"])
    assert (code, out) == (EXIT_OK, "update: nothing to do: the model is up to date: materialized through 2026-01-10, "
                                    "and the sources hold no later day (latest: 2026-01-10)\n")
    code, out = _run(capsys, refreshed.root, ["model", "update"])
    assert (code, out) == (EXIT_OK, "The model is up to date: materialized through 2026-01-10, and the sources hold "
                                    "no later day (latest: 2026-01-10); nothing was written.\n")
    assert refreshed.snapshot() == before
    code, out = _run(capsys, refreshed.root, ["jobs", "list", "--format", "json"])
    assert [job["kind"] for job in json.loads(out)] == ["refresh"]  # no job logged


def test_an_update_with_lookback_days_rewrites_them(refreshed, capsys):
    """lookback_days: 2 re-materializes 01-09 .. 01-10 even without new data, and with them the
    7 days before (playtime_next_7_days looks 7 days ahead): 01-02 .. 01-10."""
    code, out = _run(capsys, refreshed.root, ["model", "update"])
    assert code == EXIT_OK
    first = out.splitlines()[0]
    assert first.startswith("Job update-") and first.endswith("over 9 days (2026-01-02 .. 2026-01-10)")


def test_an_update_after_a_changed_definition_is_not_up_to_date(refreshed, capsys):
    refreshed.replace("userentity/config.yml", "lookback_days: 2", "lookback_days: 0")
    refreshed.replace("userentity/properties/revenue.yml", "select: '{amount_usd}', aggregate_function: max}",
                      "select: '{amount_usd} * 2', aggregate_function: max}")
    code, out = _run(capsys, refreshed.root, ["model", "plan", "update"])
    assert code == EXIT_OK
    assert re.search(r"why: first, on every materialized day \(\S+ \.\. \S+\): recompute the property \w+ "
                     r"\(changed\), because the config changed", out), out
