"""Event tables that are tables of the Spark catalog (``warehouse: {type: spark_catalog}``,
``table_name: game.sessions``): created here as managed tables in Spark's warehouse
directory (a temporary directory, see conftest), read by the jobs, the planner and the KPI
queries through Spark, and checked by ``config validate``'s dry run on Spark."""

from __future__ import annotations

import shutil

import pytest
from spark_support import DEMO_START, TABLES, assert_models_equal, assert_same, day, kpi_points, make_pair

from asemic_core.config import writer
from asemic_core.config.models import DeploymentConfig
from asemic_core.demo.project import PARQUET_DIR
from asemic_core.errors import AsemicError
from asemic_core.project import Project

USERS, DAYS = 150, 14


@pytest.fixture(scope="module")
def projects(spark, spark_warehouse_dir, tmp_path_factory):
    """(the project reading the catalog's tables, the DuckDB project reading the same rows as Parquet)."""
    root = tmp_path_factory.mktemp("catalog")
    spark_root, duck_root, full = make_pair(root, USERS, DAYS)
    session = spark()
    session.sql("CREATE DATABASE IF NOT EXISTS game")
    for table in TABLES:
        session.sql(f"DROP TABLE IF EXISTS game.{table}")
        session.read.parquet(str(full / "game" / table)).write.saveAsTable(f"game.{table}")
    catalog_root = root / "catalog"
    shutil.copytree(spark_root, catalog_root, ignore=shutil.ignore_patterns(".asemic"))
    shutil.rmtree(catalog_root / PARQUET_DIR, ignore_errors=True)  # the events are the catalog's only
    writer.save_deployment(catalog_root, DeploymentConfig.model_validate(
        {"name": "Demo game", "warehouse": {"type": "spark_catalog"}, "engine": {"type": "spark"}}))
    yield Project(catalog_root), Project(duck_root)
    for table in TABLES:
        session.sql(f"DROP TABLE IF EXISTS game.{table}")


def test_the_tables_live_in_the_spark_warehouse_directory(projects, spark_warehouse_dir):
    # Managed tables: Spark wrote their files under spark.sql.warehouse.dir.
    assert sorted(p.name for p in (spark_warehouse_dir / "game.db").iterdir() if p.is_dir()) == sorted(TABLES)


def test_validate_refresh_and_kpis_read_the_catalog(projects):
    catalog, duck = projects
    report = catalog.validate()
    assert report.ok and report.dry_run == "passed", [i.to_dict() for i in report.issues]
    duck_report = duck.validate()
    assert duck_report.dry_run == "passed"

    plan = catalog.plan_refresh()
    assert (plan.first_day, plan.last_day) == (DEMO_START, day(DAYS - 1))
    result = catalog.refresh(origin="test")
    expected = duck.refresh(origin="test")
    assert (result.first_day, result.last_day, result.rows) == (day(0), day(DAYS - 1), expected.rows)
    stored = assert_models_equal(catalog.root, duck.root, "refresh from the Spark catalog")
    assert stored == catalog.status().stored_rows > 0  # the job's rows are user-days; the table stores fewer

    # KPI queries run on Spark (DuckDB cannot read the catalog's events).
    from asemic_core.backend.spark_executor import SparkExecutor

    source = catalog.source()
    try:
        assert isinstance(source.executor, SparkExecutor)
    finally:
        source.close()
    # A few KPIs (test_spark_equivalence compares every one on Spark): each is a Spark query here.
    kpis = ("dau", "revenue", "arpdau", "wau")
    expected = kpi_points(duck, day(5), day(DAYS - 1), only=kpis)
    actual = kpi_points(catalog, day(5), day(DAYS - 1), only=kpis)
    assert sorted(actual) == sorted(expected) == sorted(kpis)
    for kpi_id, points in expected.items():
        assert_same(actual[kpi_id].cast(points.schema), points, f"KPI {kpi_id} from the catalog")


def test_a_table_missing_from_the_catalog(projects, spark, tmp_path):
    catalog, _duck = projects
    root = tmp_path / "missing"
    shutil.copytree(catalog.root, root, ignore=shutil.ignore_patterns(".asemic"))
    event = root / "userentity" / "events" / "ad_view.yml"
    event.write_text(event.read_text().replace("game.ad_views", "game.ad_impressions"))
    report = Project(root).validate()
    issues = [i for i in report.errors if i.rule == "dry-run"]
    assert len(issues) == 1, [i.to_dict() for i in report.issues]
    line = next(n for n, text in enumerate(event.read_text().splitlines(), 1) if "table_name:" in text)
    assert (issues[0].file, issues[0].line, issues[0].object_id, issues[0].field) == (
        "userentity/events/ad_view.yml", line, "ad_view", "table_name")
    assert issues[0].message == ("table game.ad_impressions does not exist in the Spark catalog "
                                 "(warehouse.type spark_catalog)")
    with pytest.raises(AsemicError) as refused:
        Project(root).refresh(origin="test")
    assert "event 'ad_view': table game.ad_impressions does not exist on Spark" in refused.value.message
    assert "the Spark catalog (warehouse.type spark_catalog)" in refused.value.message
    assert not (root / ".asemic").exists()


def test_spark_catalog_needs_the_spark_engine(projects, tmp_path):
    catalog, _duck = projects
    root = tmp_path / "duckdb-engine"
    shutil.copytree(catalog.root, root, ignore=shutil.ignore_patterns(".asemic"))
    text = (root / "asemic.yml").read_text()
    (root / "asemic.yml").write_text(text.replace("type: spark\n", "type: duckdb\n"))
    report = Project(root).validate(dry_run=False)
    assert [i.message for i in report.errors if i.file == "asemic.yml"] == [
        "warehouse.type spark_catalog needs engine.type: spark (only Spark reads the catalog's tables)"]


HIVE_SCRIPT = """
import sys
from asemic_core.backend.settings import SparkSettings
from asemic_core.backend.spark_session import spark_session, stop_session
from asemic_core.project import Project
events, tables, root = sys.argv[1:4]
conf = tuple(sorted(dict(a.split("=", 1) for a in sys.argv[4:]).items()))
spark = spark_session(SparkSettings("local[2]", conf))
spark.sql("CREATE DATABASE IF NOT EXISTS game")
for table in tables.split(","):
    spark.read.parquet(f"{events}/game/{table}").write.saveAsTable(f"game.{table}")
stop_session()  # the catalog is gone with the session unless the metastore kept it
Project(root).refresh(origin="test")
"""


def test_catalog_tables_of_a_hive_metastore(tmp_path):
    """A local Hive metastore (Derby, shipped with pyspark) keeps the catalog beyond the
    session: a session creates the tables and stops; the refresh's session (the project's
    engine.conf) finds them. In a process of its own, as Derby admits one JVM at a time."""
    import os
    import subprocess
    import sys

    spark_root, duck_root, full = make_pair(tmp_path / "pair", 120, 8)
    conf = {"spark.sql.catalogImplementation": "hive", "spark.sql.warehouse.dir": str(tmp_path / "warehouse"),
            "spark.hadoop.javax.jdo.option.ConnectionURL":
                f"jdbc:derby:;databaseName={tmp_path / 'metastore_db'};create=true"}
    root = tmp_path / "hive"
    shutil.copytree(spark_root, root, ignore=shutil.ignore_patterns(".asemic"))  # its events moved out
    writer.save_deployment(root, DeploymentConfig.model_validate(
        {"warehouse": {"type": "spark_catalog"}, "engine": {"type": "spark", "conf": conf}}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    done = subprocess.run([sys.executable, "-c", HIVE_SCRIPT, str(full), ",".join(TABLES), str(root),
                           *[f"{k}={v}" for k, v in conf.items()]], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "warehouse" / "game.db" / "sessions").is_dir()
    Project(duck_root).refresh(origin="test")
    assert assert_models_equal(root, duck_root, "refresh from a Hive metastore") > 0
