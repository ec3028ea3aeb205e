"""One measured step of the benchmark, run by ``bench/run.py`` in a fresh process.

    python bench/_child.py demo    DIR USERS DAYS SEED
    python bench/_child.py refresh DIR
    python bench/_child.py floor   DIR temp|parquet OUT_DIR
    python bench/_child.py kpi     DIR REPEATS
    python bench/_child.py model_sink DIR SINK OUT_DIR   (diagnostics)

Each step does only its work and prints one JSON line (its in-process timings) as the
last line of stdout. The parent reads the process's peak RSS from the kernel when the
process exits (``os.wait4``), so everything this process did counts, including the
interpreter and the imports; ``rss_before_work_kb`` is the high-water mark read just
before the timed work starts (modules the work imports lazily come after it).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _emit(payload: dict) -> None:
    sys.stdout.write("\n" + json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


# -- demo generation --------------------------------------------------------------------
def step_demo(directory: str, users: str, days: str, seed: str) -> None:
    from asemic_core.demo.dataset import DemoSpec
    from asemic_core.demo.project import init_demo

    baseline = _maxrss_kb()
    t0 = time.perf_counter()
    counts = init_demo(directory, DemoSpec(users=int(users), days=int(days), seed=int(seed)))
    seconds = time.perf_counter() - t0
    _emit({"seconds": seconds, "table_rows": counts, "rss_before_work_kb": baseline})


# -- full refresh -------------------------------------------------------------------------
def _override_memory_limit() -> str | None:
    """Diagnostics only (bench/diagnose_refresh.py): another DuckDB memory_limit."""
    import os

    limit = os.environ.get("BENCH_MEMORY_LIMIT")
    if limit:
        os.environ["ASEMIC_MEMORY_LIMIT"] = limit  # the engine's documented override
    return limit


def step_refresh(directory: str) -> None:
    from asemic_core.project import Project

    memory_limit = _override_memory_limit()

    project = Project(directory)
    baseline = _maxrss_kb()
    t0 = time.perf_counter()
    result = project.refresh(origin="bench")
    seconds = time.perf_counter() - t0
    _emit({
        "seconds": seconds,
        "status": result.status,
        "rows": result.rows,
        "days": len(result.days),
        "first_day": result.first_day,
        "last_day": result.last_day,
        "phases": result.phases,
        "memory_limit_override": memory_limit,
        "rss_before_work_kb": baseline,
    })


# -- diagnostics: the refresh's model query into other sinks -------------------------------
def step_model_sink(directory: str, sink: str, out_dir: str) -> None:
    """The refresh's compute-and-write loop (same SQL, same batches of users, same
    connection settings) with the output going to ``sink``:

    * ``partitioned_parquet``: what the refresh does (one file per day and batch);
    * ``single_parquet``: one Parquet file per batch;
    * ``temp_table``: rows kept in a DuckDB temporary table (no Parquet).
    """
    from pathlib import Path

    from asemic_core.engine import source_day_range, warehouse_connection
    from asemic_core.jobs.writing import ROWS_PER_BUCKET, estimate_rows, user_bucket
    from asemic_core.project import Project
    from asemic_core.semantic.resolve import resolve
    from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
    from asemic_core.sql.render import render
    from asemic_core.storage.schema import daily_columns

    project = Project(directory)
    files = project.files()
    resolved = resolve(files)
    scratch = Path(out_dir) / "scratch"
    con = warehouse_connection(project.warehouse_path(files), scratch)
    baseline = _maxrss_kb()
    t0 = time.perf_counter()
    first, last = source_day_range(con, resolved)
    columns = daily_columns(resolved)
    from asemic_core.backend.duckdb_executor import DuckDBExecutor

    _users, estimated = estimate_rows(DuckDBExecutor(con), resolved, first, last)
    buckets = max(1, -(-estimated // ROWS_PER_BUCKET))
    builder = ModelQueryBuilder(resolved)
    plan_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    for bucket in range(buckets):
        request = ModelRequest(properties=columns, day_from=first, day_to=last, user_filter=user_bucket(bucket, buckets))
        sql = render(builder.build(request))
        if sink == "partitioned_parquet":
            con.execute(f"COPY ({sql}) TO '{Path(out_dir) / f'b{bucket}'}' (FORMAT PARQUET, PARTITION_BY (date), "
                        "WRITE_PARTITION_COLUMNS true, COMPRESSION ZSTD)")
        elif sink == "single_parquet":
            con.execute(f"COPY ({sql}) TO '{out_dir}/b{bucket}.parquet' (FORMAT PARQUET, COMPRESSION ZSTD)")
        elif sink == "temp_table":
            if bucket == 0:
                con.execute(f"CREATE TEMP TABLE model_rows AS {sql}")
            else:
                con.execute(f"INSERT INTO model_rows {sql}")
        else:
            raise SystemExit(f"unknown sink {sink!r}")
    seconds = time.perf_counter() - t1
    con.close()
    _emit({"seconds": seconds, "plan_seconds": plan_seconds, "buckets": buckets, "estimated_rows": estimated,
           "columns": len(columns), "rss_before_work_kb": baseline})


# -- the floor: one grouped pass over every event table --------------------------------
EVENT_TABLES = ("registrations", "sessions", "purchases", "ad_views", "level_completions")


def floor_select() -> str:
    return "\nUNION ALL\n".join(
        f"SELECT user_id, event_date, count(*) AS n FROM game.{table} GROUP BY user_id, event_date"
        for table in EVENT_TABLES)


def step_floor(directory: str, mode: str, out_dir: str) -> None:
    import duckdb

    baseline = _maxrss_kb()
    t0 = time.perf_counter()
    con = duckdb.connect(f"{directory}/warehouse.duckdb", read_only=True)
    con.execute("SET memory_limit='4GB'")
    threads, memory_limit = con.sql("SELECT current_setting('threads'), current_setting('memory_limit')").fetchall()[0]
    connect_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    if mode == "temp":
        con.execute(f"CREATE TEMP TABLE floor_groups AS {floor_select()}")
        query_seconds = time.perf_counter() - t1
        groups = con.sql("SELECT count(*) FROM floor_groups").fetchall()[0][0]
    elif mode == "parquet":
        target = f"{out_dir}/floor_groups.parquet"
        con.execute(f"COPY ({floor_select()}) TO '{target}' (FORMAT PARQUET, COMPRESSION ZSTD)")
        query_seconds = time.perf_counter() - t1
        groups = con.sql(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0]
    else:
        raise SystemExit(f"unknown floor mode {mode!r}")
    con.close()
    _emit({"seconds": query_seconds, "connect_seconds": connect_seconds, "groups": groups,
           "threads": threads, "memory_limit": memory_limit, "rss_before_work_kb": baseline})


# -- KPI query latency ------------------------------------------------------------------------
def kpi_queries(project, last_day):
    """(kind, label, KpiRequest) for the query mix; see docs/performance.md."""
    import datetime as dt

    from asemic_core.query.filters import parse_filter
    from asemic_core.query.kpi import KpiRequest

    resolved = project.resolved()
    date_kpis = sorted(k for k, kpi in resolved.kpis.items() if "date" in kpi.x_axes)
    d30 = last_day - dt.timedelta(days=29)
    d90 = last_day - dt.timedelta(days=89)
    us = parse_filter("country = 'US'", resolved)
    queries = []
    for kpi in date_kpis:
        queries.append(("date_30d_day", kpi, KpiRequest(kpi, d30, last_day, x_axis="date", grain="day")))
    for kpi in date_kpis:
        queries.append(("date_90d_week", kpi, KpiRequest(kpi, d90, last_day, x_axis="date", grain="week")))
    for kpi in date_kpis:
        queries.append(("date_30d_by_platform", kpi,
                        KpiRequest(kpi, d30, last_day, x_axis="date", grain="day", by=["platform"])))
    for kpi in date_kpis:
        queries.append(("date_30d_country_us", kpi,
                        KpiRequest(kpi, d30, last_day, x_axis="date", grain="day", filters=[us])))
    for kpi in ("retention", "ltv"):
        queries.append(("cohort_30d", kpi, KpiRequest(kpi, d30, last_day, x_axis="cohort_day")))
    return queries


def step_kpi(directory: str, repeats: str) -> None:
    from asemic_core.project import Project

    project = Project(directory)
    baseline = _maxrss_kb()
    t_open = time.perf_counter()
    source = project.source()
    first_day, last_day = source.available_range()
    open_seconds = time.perf_counter() - t_open
    queries = kpi_queries(project, last_day)

    warmup = []
    points = {}
    for kind, kpi, request in queries:  # one warm-up run of each query
        t0 = time.perf_counter()
        result = project.kpi_query(request, source=source)
        warmup.append(time.perf_counter() - t0)
        points[f"{kind}/{kpi}"] = result.points.height
    samples: dict[str, list[float]] = {f"{kind}/{kpi}": [] for kind, kpi, _r in queries}
    for _round in range(int(repeats)):  # then the whole mix, round after round
        for kind, kpi, request in queries:
            t0 = time.perf_counter()
            project.kpi_query(request, source=source)
            samples[f"{kind}/{kpi}"].append(time.perf_counter() - t0)
    source.close()
    _emit({
        "model_first_day": first_day, "model_last_day": last_day, "open_seconds": open_seconds,
        "queries": [{"kind": kind, "kpi": kpi, "from": r.date_from, "to": r.date_to, "x_axis": r.x_axis,
                     "grain": r.grain, "by": r.by, "filters": [f.describe() for f in r.filters],
                     "points": points[f"{kind}/{kpi}"], "warmup_seconds": w,
                     "seconds": samples[f"{kind}/{kpi}"]}
                    for (kind, kpi, r), w in zip(queries, warmup)],
        "rss_before_work_kb": baseline,
    })


STEPS = {"demo": step_demo, "refresh": step_refresh, "floor": step_floor, "kpi": step_kpi,
         "model_sink": step_model_sink}

if __name__ == "__main__":
    STEPS[sys.argv[1]](*sys.argv[2:])
