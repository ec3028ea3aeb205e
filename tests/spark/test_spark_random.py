"""The random projects of the engine's hypothesis generator (``tests/engine/random_project``:
random event data, a random config covering every property kind and function, random
KPIs and queries) refreshed on Spark ``local[2]`` and on DuckDB, both reading the same
Parquet event tables: every model value equal (integers, strings and dates exactly,
floats to 1e-9 relative), and every KPI query's points, per-group totals and total.

Few examples (3 in CI; ``ASEMIC_TEST_PROFILE=thorough``: 30): each pays several Spark jobs.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, note, settings

_ENGINE_TESTS = Path(__file__).parent.parent / "engine"
if str(_ENGINE_TESTS) not in sys.path:
    sys.path.insert(0, str(_ENGINE_TESTS))

from budget import budget  # noqa: E402
from random_project import Scenario, scenarios, write_project  # noqa: E402
from spark_support import assert_same, table_frame  # noqa: E402

from asemic_core.config import writer  # noqa: E402
from asemic_core.config.models import DeploymentConfig  # noqa: E402
from asemic_core.errors import AsemicError  # noqa: E402
from asemic_core.names import quote_name, sql_string  # noqa: E402
from asemic_core.project import Project  # noqa: E402
from asemic_core.query.filters import Filter  # noqa: E402
from asemic_core.query.kpi import KpiRequest  # noqa: E402

EXAMPLES = settings(max_examples=budget(ci=3, thorough=30), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def parquet_pair(scenario: Scenario, directory: Path) -> tuple[Project, Project]:
    """(Spark project, DuckDB project) of ``scenario``, both reading ``directory/events``:
    the generator's DuckDB tables written as Parquet (``events/<schema>/<table>/``)."""
    source = write_project(scenario, directory / "source")
    events = directory / "events"
    with duckdb.connect(str(source / "warehouse.duckdb"), read_only=True) as con:
        for body in scenario.tables.values():
            schema, table = body["table_name"].split(".")
            folder = events / schema / table
            folder.mkdir(parents=True)
            con.execute(f"COPY {quote_name(schema)}.{quote_name(table)} TO "
                        f"{sql_string(str(folder / 'part-0.parquet'))} (FORMAT parquet)")
    projects = []
    for name, engine in (("spark", {"type": "spark", "master": "local[2]"}), ("duckdb", None)):
        root = directory / name
        write_project(scenario, root)
        (root / "warehouse.duckdb").unlink()
        body = {"warehouse": {"type": "parquet", "path": str(events)}}
        if engine:
            body["engine"] = engine
        writer.save_deployment(root, DeploymentConfig.model_validate(body))
        projects.append(Project(root))
    return projects[0], projects[1]


def refresh_both(spark_project: Project, duck_project: Project) -> bool:
    """Refresh both; False when DuckDB refuses (no data in range), which Spark must do alike."""
    try:
        expected = duck_project.refresh(origin="test")
    except AsemicError as err:
        with pytest.raises(AsemicError) as refused:
            spark_project.refresh(origin="test")
        assert refused.value.message == err.message
        return False
    result = spark_project.refresh(origin="test")
    assert (result.first_day, result.last_day, result.rows) == (expected.first_day, expected.last_day, expected.rows)
    return True


def same_number(left, right) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, float) or isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    return left == right


def compare_kpis(scenario: Scenario, spark_project: Project, duck_project: Project) -> int:
    sources = spark_project.source(), duck_project.source()
    compared = 0
    try:
        for query in scenario.queries:
            label = f"{query['kpi']} {query['x_axis']} {query['grain']} {query['from']}..{query['to']} by={query['by']}"
            request = KpiRequest(query["kpi"], query["from"], query["to"], query["x_axis"], query["grain"],
                                 list(query["by"]), [Filter(p, op, v) for p, op, v in query["filters"]])
            got, want = (project.kpi_query(request, source=source)
                         for project, source in zip((spark_project, duck_project), sources))
            keys = [c for c in want.points.columns if c != "value"]
            assert_same(got.points.sort(keys, nulls_last=True), want.points.sort(keys, nulls_last=True), label)
            group = [c for c in want.totals.columns if c != "total"]
            if group:
                assert_same(got.totals.sort(group, nulls_last=True), want.totals.sort(group, nulls_last=True), label)
            else:
                assert_same(got.totals, want.totals, label)
            assert same_number(got.total, want.total), f"{label}: total {got.total!r} != {want.total!r}"
            compared += 1
    finally:
        for source in sources:
            source.close()
    return compared


@pytest.mark.slow
@EXAMPLES
@given(scenarios(with_kpis=True))
def test_random_projects_on_spark_equal_duckdb(spark, scenario: Scenario) -> None:
    note(scenario.describe())
    with tempfile.TemporaryDirectory(prefix="asemic-spark-random-") as scratch:
        spark_project, duck_project = parquet_pair(scenario, Path(scratch))
        if not refresh_both(spark_project, duck_project):
            event("no data in range: both refused")
            return
        event("refreshed and compared")
        for table in ("daily", "users"):
            assert_same(table_frame(spark_project.root, table), table_frame(duck_project.root, table), table)
        assert compare_kpis(scenario, spark_project, duck_project) == len(scenario.queries)
