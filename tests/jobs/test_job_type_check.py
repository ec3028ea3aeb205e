"""A job refuses a property whose new definition the dry run rejects: a produced type its
``data_type`` cannot hold (the job would write the value cast: a DOUBLE sum declared
INTEGER, rounded) or an expression that does not compile against the warehouse. The
refusal names the file, line, property and field, as ``config validate`` does, and the
model is unchanged. Only the definitions the model does not hold yet are checked: an edit
back to a valid definition runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from jobs_support import REPO, change_property, copy_project, property_definition, table_frame

from asemic_core.config.writer import save_property
from asemic_core.errors import ConfigError
from asemic_core.project import Project


def _clean(demo_states, tmp_path: Path) -> Project:
    return Project(copy_project(demo_states.clean, tmp_path / "p"))


def _refused(project: Project, job, field: str, prop: str = "purchases_on_day", file: str = "revenue.yml") -> str:
    before = project.model_store().current().version
    with pytest.raises(ConfigError) as refused:
        job()
    issues = [i for i in refused.value.issues if i.is_error]
    assert len(issues) == 1 and issues[0].object_id == prop and issues[0].field == field, issues
    assert issues[0].file.endswith(file) and issues[0].line is not None
    assert project.model_store().current().version == before  # nothing published
    return issues[0].message


def test_a_number_into_an_integer_column_is_refused_by_every_job_that_computes_it(demo_states, tmp_path: Path) -> None:
    project = _clean(demo_states, tmp_path)
    stored = table_frame(project.root)["purchases_on_day"]
    # a sum of amounts (DOUBLE) declared INTEGER: the job would write the rounded sums
    change_property(project.root, "purchases_on_day", {"event_property": {"aggregate_function": "sum"}})
    for job in (lambda: project.update(properties=["purchases_on_day"], origin="test"),
                lambda: project.update(origin="test"), lambda: project.refresh(origin="test")):
        message = _refused(project, job, "data_type")
        assert "INTEGER" in message and "DOUBLE" in message
    assert table_frame(project.root)["purchases_on_day"].to_list() == stored.to_list()
    # declared NUMBER, the same definition runs
    definition = property_definition(project.root, "purchases_on_day")
    definition["data_type"] = "NUMBER"
    save_property(project.root, "purchases_on_day", definition)
    project.update(properties=["purchases_on_day"], origin="test")
    assert table_frame(project.root)["purchases_on_day"].dtype.is_float()


@pytest.mark.parametrize("prop, kind, fields, field, file, words", [
    ("purchases_on_day", "event_property", {"select": "{amount_usd} || 'x'", "aggregate_function": "max"},
     "data_type", "revenue.yml", ("INTEGER", "VARCHAR")),
    ("purchases_on_day", "event_property", {"select": "{amount_usd} + DATE '2026-01-01'"}, "event_property.select", "revenue.yml",
     ("does not compile",)),
    ("is_reactivated", "computed_property", {"select": "IF({dau_active} = 1, 'yes', 'no')"}, "data_type",
     "activity.yml", ("INTEGER", "VARCHAR")),
], ids=["string-into-integer", "does-not-compile", "computed-string-into-integer"])
def test_other_definitions_the_dry_run_rejects_are_refused(demo_states, tmp_path: Path, prop, kind, fields, field,
                                                            file, words) -> None:
    project = _clean(demo_states, tmp_path)
    change_property(project.root, prop, {kind: fields})
    message = _refused(project, lambda: project.update(properties=[prop], origin="test"), field, prop, file)
    assert all(word in message for word in words), message


def test_the_cli_prints_the_issue_and_the_studios_job_record_holds_it(demo_states, tmp_path: Path) -> None:
    project = _clean(demo_states, tmp_path)
    change_property(project.root, "purchases_on_day", {"event_property": {"aggregate_function": "sum"}})
    cli = subprocess.run([sys.executable, "-m", "asemic_core.cli", "--project", str(project.root), "model", "update",
                          "--property", "purchases_on_day"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert "revenue.yml:" in cli.stderr and "[purchases_on_day.data_type]" in cli.stderr
    store = project.model_store()
    job_id = store.jobs.create("update", {"properties": ["purchases_on_day"]}, "test", "app")
    with pytest.raises(ConfigError):
        project.update(properties=["purchases_on_day"], origin="app", job_id=job_id)
    record = store.jobs.get(job_id)
    assert record.status == "failed" and "[purchases_on_day.data_type]" in record.error
