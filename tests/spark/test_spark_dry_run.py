"""``config validate``'s dry run on a Spark project runs on Spark: every event table, event
property, computed property and KPI is compiled (EXPLAIN) on the Spark session, the same
generated SQL rendered for Spark, and its errors are placed like the DuckDB dry run's (file,
line, object, field)."""

from __future__ import annotations

import shutil
import socket

import pytest
from spark_support import make_pair

from asemic_core.project import Project
from asemic_core.validation.dry_run import run_dry_run


@pytest.fixture(scope="module")
def pair(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("dry-run")
    spark_root, duck_root, _full = make_pair(root, 50, 5)  # both read root/events
    return Project(spark_root), Project(duck_root)


def edited(project: Project, tmp_path, rel: str, old: str, new: str) -> Project:
    root = tmp_path / "edited"
    shutil.copytree(project.root, root, ignore=shutil.ignore_patterns(".asemic"))
    text = (root / rel).read_text()
    assert old in text, rel
    (root / rel).write_text(text.replace(old, new, 1))
    return Project(root)


def line_of(project: Project, rel: str, fragment: str) -> int:
    return next(n for n, text in enumerate((project.root / rel).read_text().splitlines(), 1) if fragment in text)


def test_the_demo_compiles_on_spark_check_for_check(pair, monkeypatch):
    spark_project, duck_project = pair
    compiled: list[str] = []
    from asemic_core.backend.spark_warehouse import SparkWarehouse

    explain = SparkWarehouse.explain
    monkeypatch.setattr(SparkWarehouse, "explain", lambda self, sql: compiled.append(sql) or explain(self, sql))
    report = spark_project.validate()
    assert report.ok and report.dry_run == "passed", [i.to_dict() for i in report.issues]
    files = duck_project.files()
    on_duckdb = run_dry_run(files, duck_project.warehouse_path(files), [])
    assert not on_duckdb.issues
    # Every statement the DuckDB dry run compiles was compiled on Spark (tables are checked
    # by reading their columns, not by EXPLAIN).
    tables = sum(1 for e in files.events.values())
    assert len(compiled) == on_duckdb.checks - tables > 30


def test_a_compile_error_is_spark_s_placed_on_the_field(pair, tmp_path):
    spark_project, _duck = pair
    rel = "userentity/kpis/revenue.yml"
    project = edited(spark_project, tmp_path, rel, "select: SUM({property.revenue_on_day})\n",
                     "select: SUM({property.revenue_on_day} + TRUE)\n")
    report = project.validate()
    assert report.dry_run.startswith("failed (1 error in ")
    [issue] = report.errors
    assert (issue.file, issue.line, issue.object_id, issue.field, issue.rule) == (
        rel, line_of(project, rel, "SUM({property.revenue_on_day} + TRUE)"), "revenue", "select", "dry-run")
    # Spark's own message (DuckDB's would be a "Binder Error").
    assert issue.message.startswith("does not compile against the warehouse: [DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES]")
    assert '"DOUBLE" and "BOOLEAN"' in issue.message


def test_an_event_property_error_and_a_data_type_spark_produces(pair, tmp_path):
    spark_project, _duck = pair
    rel = "userentity/properties/revenue.yml"
    project = edited(spark_project, tmp_path, rel, "select: '{amount_usd}'\n      aggregate_function: sum",
                     "select: 'DATE_DIFF({amount_usd}, 1)'\n      aggregate_function: sum")
    [issue] = project.validate().errors
    assert (issue.file, issue.line, issue.object_id, issue.field) == (
        rel, line_of(project, rel, "DATE_DIFF"), "revenue_on_day", "event_property.select")
    assert "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE]" in issue.message and "SQLSTATE" not in issue.message

    # A sum of amounts (DOUBLE on Spark) declared INTEGER: the data_type field is at fault.
    project = edited(spark_project, tmp_path / "typed", rel, "  revenue_on_day:\n    data_type: NUMBER",
                     "  revenue_on_day:\n    data_type: INTEGER")
    errors = [i for i in project.validate().errors if i.object_id == "revenue_on_day"]
    assert [(i.field, i.line) for i in errors] == [("data_type", line_of(project, rel, "data_type: INTEGER"))]
    assert "DOUBLE" in errors[0].message


def test_a_missing_parquet_table_names_warehouse_path(pair, tmp_path):
    spark_project, _duck = pair
    rel = "userentity/events/ad_view.yml"
    project = edited(spark_project, tmp_path, rel, "game.ad_views", "game.ad_impressions")
    report = project.validate()
    [issue] = [i for i in report.errors if i.rule == "dry-run"]
    warehouse = project.warehouse_path()
    assert (issue.file, issue.line, issue.field) == (rel, line_of(project, rel, "table_name:"), "table_name")
    assert issue.message == f"table game.ad_impressions does not exist in warehouse.path {warehouse}"


def test_an_unreachable_master_is_an_engine_issue(pair, tmp_path):
    spark_project, _duck = pair
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    project = edited(spark_project, tmp_path, "asemic.yml", "master: local[2]", f"master: spark://127.0.0.1:{port}")
    report = project.validate()
    assert report.dry_run == "failed (the warehouse cannot be read)"
    [issue] = report.errors
    assert (issue.file, issue.field, issue.line) == ("asemic.yml", "engine.master",
                                                     line_of(project, "asemic.yml", "master:"))
    assert f"engine.master spark://127.0.0.1:{port} is not reachable" in issue.message


def test_editor_drafts_compile_on_spark(pair):
    """The studio's checks of an unsaved draft run on Spark on a Spark project."""
    from asemic_core.config.models import Kpi, Property
    from asemic_core.query.draft_check import draft_dry_run, produced_data_type
    from asemic_core.query.draft_preview import Draft

    spark_project, _duck = pair
    files = spark_project.files()
    path, settings = spark_project.warehouse_path(files), spark_project.engine_settings(files)
    broken = Draft("kpi", "revenue_plus", Kpi.model_validate({"select": "SUM({property.revenue_on_day} + TRUE)",
                                                               "x_axis": {"date": {}}}))
    [issue] = draft_dry_run(files, path, broken, [], settings)
    assert (issue.object_id, issue.field) == ("revenue_plus", "select")
    assert "[DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES]" in issue.message  # Spark's message
    fine = Draft("kpi", "revenue_twice", Kpi.model_validate({"select": "SUM({property.revenue_on_day}) * 2",
                                                              "x_axis": {"date": {}}}))
    assert draft_dry_run(files, path, fine, [], settings) == []

    def produced(model: dict) -> str | None:
        found = produced_data_type(files, path, Draft("property", "x", Property.model_validate(model)), settings)
        return found.value if found else None

    event = {"source_event": "purchase", "select": "{amount_usd}"}
    assert produced({"data_type": "INTEGER", "event_property": {**event, "aggregate_function": "sum"}}) == "NUMBER"
    assert produced({"data_type": "NUMBER", "event_property": {**event, "aggregate_function": "count"}}) == "INTEGER"
    assert produced({"data_type": "INTEGER", "computed_property": {"select": "{country} || '!'"}}) == "STRING"
