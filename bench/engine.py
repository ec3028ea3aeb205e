"""Engine benchmark: the floor, every job kind and KPI latency on the demo dataset, one run.

    python bench/engine.py --users 10000 --days 90
    python bench/engine.py --users 100000 --days 180 --data /work/scratch/demo100k
    python bench/engine.py --users 1000000 --days 365 --data /work/scratch/demo1m --data-only

Options: ``--seed S`` (demo seed, default 42), ``--out FILE`` (default
``bench/engine-<N>-<D>.json``), ``--keep DIR`` (build the benchmark project in DIR and keep it),
``--data DIR`` (the demo warehouse: generated there on first use, reused by later runs with the
same users/days/seed; ``--data-only`` stops after that), ``--kpi-repeats``, ``--floor-runs``,
``--memory-limit``, ``--label`` (free text stored with the results, e.g. "dense engine, under load"),
``--engine spark`` (the jobs on Spark ``local[2]``: the events exported to Parquet in the work
directory, the project's ``engine: {type: spark}``; refresh, one-day update and the KPI mix only,
each job's Spark session start-up timed apart from the job; default results file
``bench/engine-<N>-<D>-spark.json``).

What is measured, in this order, each step in a fresh Python process:

1. **Demo generation** (only when the data directory is new): ``asemic-cli demo init``.
2. **CLI start-up**: ``python -m asemic_core.cli --help``, three times (median). Reported for
   reference; it is *not* subtracted from anything (see "job time" below).
3. **Floor**: one DuckDB pass grouping every event table by (user_id, event_date)
   (``UNION ALL`` of per-table ``GROUP BY ... count(*)``), fully materialized into a temporary
   table, read-only connection, the engine's ``memory_limit``, DuckDB's default threads;
   ``--floor-runs`` times (median). The time excludes opening the connection.
4. **Full refresh** with ``model_settings.end_date`` one day before the data's last day and
   ``lookback_days: 3``; its process's peak RSS; the model's size on disk afterwards.
5. **One-day update**: ``end_date`` moved to the data's last day, then ``update``.
6. **update --kpi dau** (its column goes into a column table of its own).
7. **KPI queries with that column table** (the mix of step 10: reads of dau_active join it).
8. **Compaction** (``compact``: the column table folded into the daily table).
9. **Rewind of the last 7 days** (``rewind --from last-6 --to last``, with its cascade).
10. **KPI queries** through ``Project.kpi_query`` with one reused reader (warm): every date-axis
   KPI over the last 30 days (day grain), the last 90 days (day grain and week grain), the last
   30 days grouped by ``platform`` and filtered by ``country = 'US'``; every cohort-axis KPI
   over the last 30 registration days. One warm-up run of each query, then ``--kpi-repeats``
   rounds of the whole mix; p50 / p95 / max over all timed runs.

**Job time.** Jobs run through the facade (``Project.refresh/update/rewind``, the same call
``asemic-cli model ...`` makes) in a fresh child process, and the time is taken *inside* the
child around that one call, after the child has imported ``asemic_core.project``, the
third-party libraries (duckdb, polars, pyarrow, sqlglot, deltalake when installed) and the
job modules the facade imports on first use (``JOB_MODULES``; their import time is recorded
as ``job_imports_seconds``: ~70 ms where Python writes no bytecode cache). So a job's time
excludes interpreter and import start-up by construction, instead of subtracting a
separately measured (and, under load, noisy) CLI start-up from a CLI wall time. The process
wall time is recorded too. Peak RSS is the child's ``ru_maxrss`` from ``os.wait4`` (it includes
the ~100-200 MB of imported libraries, recorded as ``rss_before_work_kb``).

**Only stable surfaces**: the CLI (``demo init``, ``--help``), the facade
``asemic_core.project.Project`` (``refresh``, ``update``, ``rewind``, ``source``,
``kpi_query``, ``resolved``, ``model_dir``), ``asemic_core.query`` (``KpiRequest``,
``parse_filter``), ``asemic_core.demo``, the YAML config files, and the warehouse file. The
model's size is every byte under ``Project.model_dir()``, whatever its layout. Nothing here
reads the model's storage directly.

**Load.** The 1-, 5- and 15-minute load averages are recorded at the start and end of the run
and of every step, with the CPU seconds other processes used during each step
(``/proc/stat`` minus the step's own ``ru_utime + ru_stime``): on a shared machine read every
wall time against them. Targets and recorded numbers: docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # this checkout's asemic_core, not an installed one
    sys.path.insert(0, str(REPO))
DATA_MARKER = "bench-data.json"
WAREHOUSE = "warehouse.duckdb"
LIBRARIES = ("duckdb", "polars", "pyarrow", "sqlglot", "deltalake", "numpy")
# the modules ``Project.refresh/update/rewind/compact`` import on their first call (sqlglot
# loads a dialect's module when it first reads or writes that dialect)
JOB_MODULES = ("asemic_core.jobs.service", "asemic_core.jobs.refresh", "asemic_core.jobs.compact",
               "asemic_core.jobs.partial_active", "asemic_core.storage.status", "asemic_core.storage.duckdb_views",
               "asemic_core.validation.dry_run", "sqlglot.dialects.duckdb", "sqlglot.dialects.bigquery")


# == child steps (``python bench/engine.py --child STEP JSON``) ==================================
def _maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _preimport() -> None:
    import importlib

    for name in LIBRARIES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import asemic_core.project  # noqa: F401


def child_floor(a: dict) -> dict:
    import duckdb

    from asemic_core.demo.dataset import SCHEMA, TABLES

    select = "\nUNION ALL\n".join(
        f'SELECT user_id, event_date, count(*) AS n FROM "{SCHEMA}"."{t}" GROUP BY user_id, event_date'
        for t in TABLES)
    baseline = _maxrss_kb()
    con = duckdb.connect(a["warehouse"], read_only=True)
    con.execute("SET memory_limit = ?", [a["memory_limit"]])
    threads, limit = con.execute("SELECT current_setting('threads'), current_setting('memory_limit')").fetchall()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    con.execute(f"CREATE TEMP TABLE floor_groups AS {select}")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    groups = con.execute("SELECT count(*) FROM floor_groups").fetchall()[0][0]
    user_days = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT user_id, event_date FROM floor_groups)").fetchall()[0][0]
    con.close()
    return {"seconds": seconds, "step_cpu_seconds": cpu, "groups": groups, "distinct_user_days": user_days,
            "threads": threads,
            "memory_limit": limit, "rss_before_work_kb": baseline}


def child_job(a: dict) -> dict:
    _preimport()
    from asemic_core.project import Project

    import importlib

    t0 = time.perf_counter()
    for name in JOB_MODULES:
        importlib.import_module(name)
    imports = time.perf_counter() - t0
    project = Project(a["project"])
    baseline = _maxrss_kb()
    startup = None
    spark = project.engine_settings().spark
    if spark is not None:  # Spark's start-up (JVM, session) is timed apart from the job
        from asemic_core.backend.spark_session import spark_session

        t0 = time.perf_counter()
        spark_session(spark)
        startup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    if a["kind"] == "refresh":
        result = project.refresh(origin="bench")
    elif a["kind"] == "update":
        result = project.update(kpis=a.get("kpis", []), origin="bench")
    elif a["kind"] == "compact":
        result = project.compact(origin="bench")
    else:
        result = project.rewind(dt.date.fromisoformat(a["from"]), dt.date.fromisoformat(a["to"]), origin="bench")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    days = getattr(result, "days", None)
    return {"seconds": seconds, "step_cpu_seconds": cpu, "status": getattr(result, "status", None),
            "rows": getattr(result, "rows", None),
            "days": len(days) if days is not None else None, "first_day": getattr(result, "first_day", None),
            "last_day": getattr(result, "last_day", None), "phases": getattr(result, "phases", None),
            "rss_before_work_kb": baseline, "spark_startup_seconds": startup, "job_imports_seconds": imports}


def kpi_mix(project, last_day: dt.date) -> list[tuple[str, object]]:
    from asemic_core.query.filters import parse_filter
    from asemic_core.query.kpi import KpiRequest

    resolved = project.resolved()
    date_kpis = sorted(k for k, kpi in resolved.kpis.items() if "date" in kpi.x_axes)
    cohort_kpis = sorted(k for k, kpi in resolved.kpis.items() if "cohort_day" in kpi.x_axes)
    d30, d90 = last_day - dt.timedelta(days=29), last_day - dt.timedelta(days=89)
    us = parse_filter("country = 'US'", resolved)
    mix = []
    for k in date_kpis:
        mix += [("date_30d_day", KpiRequest(k, d30, last_day, x_axis="date", grain="day")),
                ("date_90d_day", KpiRequest(k, d90, last_day, x_axis="date", grain="day")),
                ("date_90d_week", KpiRequest(k, d90, last_day, x_axis="date", grain="week")),
                ("date_30d_by_platform", KpiRequest(k, d30, last_day, x_axis="date", grain="day", by=["platform"])),
                ("date_30d_country_us", KpiRequest(k, d30, last_day, x_axis="date", grain="day", filters=[us]))]
    mix += [("cohort_30d", KpiRequest(k, d30, last_day, x_axis="cohort_day")) for k in cohort_kpis]
    return mix


def child_kpi(a: dict) -> dict:
    _preimport()
    from asemic_core.project import Project

    project = Project(a["project"])
    baseline = _maxrss_kb()
    t0 = time.perf_counter()
    source = project.source()
    open_seconds = time.perf_counter() - t0
    mix = kpi_mix(project, dt.date.fromisoformat(a["last_day"]))
    warmup, points = [], []
    for _kind, request in mix:
        t0 = time.perf_counter()
        result = project.kpi_query(request, source=source)
        warmup.append(time.perf_counter() - t0)
        points.append(result.points.height)
    timings: list[list[float]] = [[] for _ in mix]
    for _round in range(a["repeats"]):
        for i, (_kind, request) in enumerate(mix):
            t0 = time.perf_counter()
            project.kpi_query(request, source=source)
            timings[i].append(time.perf_counter() - t0)
    close = getattr(source, "close", None)
    if close:
        close()
    return {"open_seconds": open_seconds, "rss_before_work_kb": baseline, "queries": [
        {"kind": kind, "kpi": r.kpi, "from": r.date_from, "to": r.date_to, "x_axis": r.x_axis, "grain": r.grain,
         "by": r.by, "filters": [f.describe() for f in r.filters], "points": n, "warmup_seconds": w, "seconds": s}
        for (kind, r), n, w, s in zip(mix, points, warmup, timings)]}


CHILD_STEPS = {"floor": child_floor, "job": child_job, "kpi": child_kpi}


def child_main(step: str, payload: str) -> None:
    try:
        out = CHILD_STEPS[step](json.loads(payload))
    except Exception as err:  # reported to the parent, which records the failure and goes on
        out = {"error": f"{type(err).__name__}: {err}"}
    sys.stdout.write("\n" + json.dumps(out, default=str) + "\n")
    sys.stdout.flush()


# == the parent: running measured processes =========================================================
def log(message: str) -> None:
    print(f"[{dt.datetime.now(dt.timezone.utc):%H:%M:%S}Z] {message}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def busy_cpu_seconds() -> float | None:
    """CPU seconds every process on the machine has used (/proc/stat, all but idle and iowait)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_process(argv: list[str], log_file: Path | None = None) -> dict:
    """Run ``argv`` in a fresh process: wall time, peak RSS, CPU, load around it, stdout."""
    load0, busy0 = loadavg(), busy_cpu_seconds()
    t0 = time.perf_counter()
    err = open(log_file, "ab") if log_file else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=child_env(), cwd=str(REPO))
        out = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        if log_file:
            err.close()
    wall = time.perf_counter() - t0
    busy1 = busy_cpu_seconds()
    own = usage.ru_utime + usage.ru_stime
    record = {"exit_code": os.waitstatus_to_exitcode(status), "process_wall_seconds": wall,
              "peak_rss_kb": usage.ru_maxrss, "cpu_seconds": own, "load_before": load0, "load_after": loadavg()}
    if busy0 is not None and busy1 is not None:
        record["other_cpu_seconds"] = max(0.0, busy1 - busy0 - own)
    record["stdout"] = out.decode(errors="replace")
    return record


def measure(step: str, args: dict, log_file: Path) -> dict:
    """One child step; its JSON merged with the process figures. Failures are recorded, not raised."""
    rec = run_process([sys.executable, str(HERE), "--child", step, json.dumps(args, default=str)], log_file)
    lines = [line for line in rec.pop("stdout").splitlines() if line.strip()]
    try:
        payload = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        payload = {"error": f"exit code {rec['exit_code']} without a result (killed? see {log_file})"}
    if "error" not in payload and rec["exit_code"] != 0:
        payload["error"] = f"exit code {rec['exit_code']}"
    payload.update(rec)
    payload["ok"] = "error" not in payload
    return payload


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary_ms(seconds: list[float]) -> dict:
    if not seconds:
        return {"n": 0}
    return {"n": len(seconds), "p50_ms": percentile(seconds, 50) * 1000, "p95_ms": percentile(seconds, 95) * 1000,
            "max_ms": max(seconds) * 1000, "mean_ms": sum(seconds) / len(seconds) * 1000}


# == facts about the machine, the data and the model (not timed) ====================================
def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in (*LIBRARIES, "asemic"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    git = lambda *a: subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()  # noqa: E731
    found["asemic_commit"] = git("rev-parse", "--short", "HEAD")
    found["asemic_branch"] = git("rev-parse", "--abbrev-ref", "HEAD")
    found["asemic_core_uncommitted_changes"] = bool(git("status", "--porcelain", "--", "asemic_core"))
    return found


def machine() -> dict:
    info = {"platform": platform.platform(), "logical_cpus": os.cpu_count()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name"))
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
        info["mem_total_gib"] = round(kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    return info


def engine_memory_limit() -> tuple[str, str]:
    """The engine's DuckDB memory_limit, for the floor: a module constant today, else 4GB."""
    try:
        import asemic_core.warehouse as warehouse

        if getattr(warehouse, "MEMORY_LIMIT", None):
            return str(warehouse.MEMORY_LIMIT), "asemic_core.warehouse.MEMORY_LIMIT"
    except ImportError:
        pass
    return "4GB", "default (engine constant not found; pass --memory-limit)"


def tree_bytes(path: Path) -> dict:
    total = files = 0
    parts: dict[str, int] = {}
    for root, _dirs, names in os.walk(path):
        top = Path(root).relative_to(path).parts[:1]
        for name in names:
            try:
                size = os.path.getsize(os.path.join(root, name))
            except OSError:
                continue
            total += size
            files += 1
            key = top[0] if top else name
            parts[key] = parts.get(key, 0) + size
    return {"bytes": total, "files": files, "by_entry": parts}


def warehouse_facts(warehouse: Path) -> dict:
    import duckdb

    from asemic_core.demo.dataset import SCHEMA, TABLES

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = {t: con.execute(f'SELECT count(*) FROM "{SCHEMA}"."{t}"').fetchall()[0][0] for t in TABLES}
        ranges = " UNION ALL ".join(f'SELECT min(event_date) AS a, max(event_date) AS b FROM "{SCHEMA}"."{t}"'
                                    for t in TABLES)
        first, last = con.execute(f"SELECT min(a), max(b) FROM ({ranges})").fetchall()[0]
        users = con.execute(f'SELECT count(DISTINCT user_id) FROM "{SCHEMA}"."registrations"').fetchall()[0][0]
    finally:
        con.close()
    return {"event_rows": rows, "event_rows_total": sum(rows.values()), "registered_users": users,
            "first_day": first.isoformat(), "last_day": last.isoformat(),
            "warehouse_bytes": warehouse.stat().st_size}


# == data and project preparation ===================================================================
def prepare_data(data_dir: Path, spec: dict, log_file: Path) -> dict:
    """The demo warehouse in ``data_dir``: reused when it was made with ``spec``, else generated."""
    marker = data_dir / DATA_MARKER
    if marker.is_file():
        made = json.loads(marker.read_text())
        if made["spec"] != spec:
            raise SystemExit(f"{data_dir} holds demo data for {made['spec']}, not {spec}; choose another --data")
        took = made["generation"]["process_wall_seconds"]
        log(f"data: reusing {data_dir} (generated {made['generated']} in {took:.0f} s)")
        return {**made, "reused": True}
    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir} is not empty and has no {DATA_MARKER}; pass a new or empty directory to --data")
    log(f"data: generating {spec['users']:,} users x {spec['days']} days into {data_dir} (asemic-cli demo init)")
    rec = run_process([sys.executable, "-m", "asemic_core.cli", "demo", "init", str(data_dir),
                       "--users", str(spec["users"]), "--days", str(spec["days"]), "--seed", str(spec["seed"])],
                      log_file)
    rec.pop("stdout")
    if rec["exit_code"] != 0:
        raise SystemExit(f"demo generation failed (exit {rec['exit_code']}); see {log_file}")
    made = {"spec": spec, "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "generation": rec, "asemic_commit": versions()["asemic_commit"],
            "facts": warehouse_facts(data_dir / WAREHOUSE)}
    marker.write_text(json.dumps(made, indent=2) + "\n")
    log(f"  {rec['process_wall_seconds']:.1f} s, peak RSS {rec['peak_rss_kb'] / 2**20:.1f} GiB, "
        f"{made['facts']['event_rows_total']:,} event rows")
    return {**made, "reused": False}


def make_project(data_dir: Path, project_dir: Path, engine: str = "duckdb") -> None:
    """A fresh project using the shared warehouse: the demo's config files copied, the warehouse
    file linked (the engine opens it read-only), no model. ``engine="spark"``: the events
    exported to Parquet next to the project and a config that runs the jobs on Spark local[2]."""
    project_dir.mkdir(parents=True)
    shutil.copy2(data_dir / "asemic.yml", project_dir / "asemic.yml")
    shutil.copytree(data_dir / "userentity", project_dir / "userentity")
    (project_dir / WAREHOUSE).symlink_to((data_dir / WAREHOUSE).resolve())
    if engine == "spark":
        import duckdb

        from asemic_core.config import writer
        from asemic_core.config.models import DeploymentConfig
        from asemic_core.demo.dataset import SCHEMA, TABLES

        events = project_dir.parent / "events"
        con = duckdb.connect(str(data_dir / WAREHOUSE), read_only=True)
        try:
            for name in TABLES:
                (events / SCHEMA / name).mkdir(parents=True)
                con.execute(f'COPY "{SCHEMA}"."{name}" TO \'{events / SCHEMA / name / "part-0.parquet"}\' (FORMAT parquet)')
        finally:
            con.close()
        writer.save_deployment(project_dir, DeploymentConfig.model_validate(
            {"name": "Demo game (Spark)", "warehouse": {"type": "parquet", "path": str(events)},
             "engine": {"type": "spark", "master": "local[2]", "conf": {"spark.driver.memory": "4g"}}}))


def set_model_settings(project_dir: Path, **values) -> None:
    """Edit ``userentity/config.yml``'s ``model_settings`` (round-trip YAML, the file is the contract)."""
    from ruamel.yaml import YAML

    path = project_dir / "userentity" / "config.yml"
    yaml = YAML()
    data = yaml.load(path.read_text())
    data.setdefault("model_settings", {})
    for key, value in values.items():
        data["model_settings"][key] = value
    with path.open("w") as fh:
        yaml.dump(data, fh)


def model_size(project_dir: Path) -> dict:
    from asemic_core.project import Project

    return tree_bytes(Project(project_dir).model_dir())


# == the run =======================================================================================
def run(args) -> dict:
    spec = {"users": args.users, "days": args.days, "seed": args.seed}
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="asemic-engine-bench-"))
    if args.keep and workdir.exists() and any(workdir.iterdir()):
        raise SystemExit(f"--keep {workdir} is not empty")
    workdir.mkdir(parents=True, exist_ok=True)
    logs = workdir / "bench.log"
    data_dir = Path(args.data).resolve() if args.data else workdir / "data"
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    results: dict = {"label": args.label, "spec": spec, "started": started, "load_start": loadavg(),
                     "machine": machine(), "versions": versions(),
                     "settings": {"kpi_repeats": args.kpi_repeats, "floor_runs": args.floor_runs,
                                  "engine": args.engine}}
    try:
        data = prepare_data(data_dir, spec, logs)
        results["data"] = {"dir": str(data_dir) if args.data else "(temporary)", "reused": data["reused"],
                           "generated": data["generated"], "generation": data["generation"], "facts": data["facts"]}
        if args.data_only:
            return results
        facts = data["facts"]
        last = dt.date.fromisoformat(facts["last_day"])
        project = workdir / "project"
        make_project(data_dir, project, args.engine)
        steps: dict = {}
        results["steps"] = steps

        log("CLI start-up: python -m asemic_core.cli --help (3 runs)")
        runs = [run_process([sys.executable, "-m", "asemic_core.cli", "--help"]) for _ in range(3)]
        for r in runs:
            r.pop("stdout")
        startup = percentile([r["process_wall_seconds"] for r in runs], 50)
        steps["cli_startup"] = {"median_seconds": startup, "runs": runs}

        limit, source = (args.memory_limit, "--memory-limit") if args.memory_limit else engine_memory_limit()
        results["settings"].update({"memory_limit": limit, "memory_limit_source": source})
        runs = []
        for i in range(args.floor_runs):
            runs.append(measure("floor", {"warehouse": str(data_dir / WAREHOUSE), "memory_limit": limit}, logs))
            log(f"floor {i + 1}/{args.floor_runs}: {describe(runs[-1])}")
        ok = [r["seconds"] for r in runs if r["ok"]]
        cpu = [r["step_cpu_seconds"] for r in runs if r["ok"]]
        steps["floor"] = {"median_seconds": percentile(ok, 50), "median_cpu_seconds": percentile(cpu, 50),
                          "max_peak_rss_kb": max(r["peak_rss_kb"] for r in runs),
                          "runs": runs}

        if args.floor_only:
            return results
        set_model_settings(project, end_date=last - dt.timedelta(days=1), lookback_days=3)
        steps["refresh"] = job(logs, project, f"refresh to {last - dt.timedelta(days=1)}", kind="refresh")
        if not steps["refresh"]["ok"]:
            log("the refresh failed: no further jobs or queries")
            return results
        set_model_settings(project, end_date=last)
        steps["update_one_day"] = job(logs, project, f"update (end date {last}, lookback 3)", kind="update")
        if args.engine == "duckdb":
            steps["update_kpi_dau"] = job(logs, project, "update --kpi dau", kind="update", kpis=["dau"])
            steps["kpi_column_table"] = kpi_step(logs, project, last, args.kpi_repeats,
                                                 "KPI queries with the column table of `update --kpi dau`")
            steps["compact"] = job(logs, project, "compact (the column table folded into the daily table)",
                                   kind="compact")
            first7 = last - dt.timedelta(days=6)
            steps["rewind_7_days"] = job(logs, project, f"rewind {first7} .. {last}", kind="rewind",
                                         **{"from": first7.isoformat(), "to": last.isoformat()})
        steps["kpi"] = kpi_step(logs, project, last, args.kpi_repeats, "KPI queries")
    finally:
        if "refresh" in results.get("steps", {}):
            results["ratios"] = ratios(results["steps"])
        results["load_end"] = loadavg()
        results["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        if args.keep:
            log(f"kept {workdir} (project, log)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def kpi_step(logs: Path, project: Path, last: dt.date, repeats: int, title: str) -> dict:
    log(f"{title}: one warm-up + {repeats} rounds")
    kpi = measure("kpi", {"project": str(project), "last_day": last.isoformat(), "repeats": repeats}, logs)
    if kpi["ok"]:
        every = [s for q in kpi["queries"] for s in q["seconds"]]
        kinds = sorted({q["kind"] for q in kpi["queries"]})
        kpi["overall"] = summary_ms(every)
        kpi["by_kind"] = {k: {"queries": sum(q["kind"] == k for q in kpi["queries"]),
                              **summary_ms([s for q in kpi["queries"] if q["kind"] == k for s in q["seconds"]])}
                          for k in kinds}
        kpi["warmup"] = summary_ms([q["warmup_seconds"] for q in kpi["queries"]])
    log(f"  {describe(kpi)}")
    return kpi


def job(logs: Path, project: Path, title: str, **kw) -> dict:
    log(f"{title}")
    rec = measure("job", {"project": str(project), **kw}, logs)
    rec["model_size"] = model_size(project)
    log(f"  {describe(rec)}; model {size(rec['model_size']['bytes'])}")
    return rec


def num(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def size(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n < 2**30 else f"{n / 2**30:,.2f} GiB"


def describe(rec: dict) -> str:
    if not rec["ok"]:
        return f"FAILED: {rec['error'][:300]}"
    if "overall" in rec:
        o = rec["overall"]
        text = f"{o['n']} timings, p50 {o['p50_ms']:.0f} ms, p95 {o['p95_ms']:.0f} ms"
    else:
        text = f"{rec['seconds']:.2f} s"
    return (f"{text} (process {rec['process_wall_seconds']:.1f} s), peak RSS {rec['peak_rss_kb'] / 1024:,.0f} MiB, "
            f"other CPU {rec.get('other_cpu_seconds', 0):.1f} s, "
            f"load {rec['load_before'][0]:.1f}->{rec['load_after'][0]:.1f}")


def ratios(steps: dict) -> dict:
    """Wall-time ratios (what the targets name) and the same ratios of CPU seconds, which a
    shared machine distorts less (CPU seconds of all threads: not a wall time on an idle machine)."""
    out = {}
    for unit, floor_key, job_key in (("", "median_seconds", "seconds"),
                                     ("cpu_", "median_cpu_seconds", "step_cpu_seconds")):
        floor = steps["floor"][floor_key]
        refresh = steps["refresh"][job_key] if steps["refresh"]["ok"] else None
        out[f"{unit}refresh_over_floor"] = refresh / floor if refresh and floor else None
        for key in ("update_one_day", "update_kpi_dau", "compact", "rewind_7_days"):
            done = refresh and key in steps and steps[key]["ok"]
            out[f"{unit}{key}_pct_of_refresh"] = steps[key][job_key] / refresh * 100 if done else None
    return out


# == the printed table ===============================================================================
def table(r: dict) -> str:
    mib = lambda kb: f"{kb / 1024:,.0f} MiB"  # noqa: E731
    v, f, s = r["versions"], r["data"]["facts"], r.get("steps", {})
    gen = r["data"]["generation"]
    rows = [("label", r.get("label") or "-"),
            ("spec", f"{r['spec']['users']:,} users x {r['spec']['days']} days, seed {r['spec']['seed']}"),
            ("machine", f"{r['machine'].get('logical_cpus')} CPUs, {r['machine'].get('mem_total_gib')} GiB; "
                        f"load {r['load_start']} at start, {r['load_end']} at end"),
            ("versions", f"python {v['python']}, duckdb {v['duckdb']}, polars {v['polars']}, pyarrow {v['pyarrow']}, "
                         f"deltalake {v['deltalake']}, asemic {v['asemic_commit']} ({v['asemic_branch']})"),
            ("data", f"{f['event_rows_total']:,} event rows, {f['registered_users']:,} users, {f['first_day']} .. "
                     f"{f['last_day']}; generation {gen['process_wall_seconds']:.1f} s, "
                     f"peak RSS {mib(gen['peak_rss_kb'])}"
                     f"{' (earlier run, reused)' if r['data']['reused'] else ''}")]
    if s:
        fl = s["floor"]
        rows.append(("CLI start-up", f"{s['cli_startup']['median_seconds']:.2f} s (not included in job times)"))
        rows.append(("floor", f"{fl['median_seconds']:.3f} s median of {len(fl['runs'])} "
                              f"(CPU {fl['median_cpu_seconds']:.2f} s), "
                              f"{fl['runs'][0].get('groups', 0):,} groups, peak RSS {mib(fl['max_peak_rss_kb'])}, "
                              f"memory_limit {r['settings']['memory_limit']}"))
        ra = r.get("ratios", {})
        for key, name in (("refresh", "full refresh"), ("update_one_day", "one-day update"),
                          ("update_kpi_dau", "update --kpi dau"), ("compact", "compact"),
                          ("rewind_7_days", "rewind 7 days")):
            rec = s.get(key)
            if rec is None:
                continue
            if not rec["ok"]:
                rows.append((name, describe(rec)))
                continue
            if key == "refresh":
                rel = f"{num(ra.get('refresh_over_floor'))}x the floor (CPU {num(ra.get('cpu_refresh_over_floor'))}x)"
            else:
                rel = (f"{num(ra.get(key + '_pct_of_refresh'))} % of refresh "
                       f"(CPU {num(ra.get('cpu_' + key + '_pct_of_refresh'))} %)")
            if rec.get("spark_startup_seconds") is not None:
                rel += f"; Spark start-up {rec['spark_startup_seconds']:.1f} s before it"
            rows.append((name, f"{rec['seconds']:.2f} s, CPU {rec['step_cpu_seconds']:.1f} s = {rel}; "
                               f"peak RSS {mib(rec['peak_rss_kb'])}; "
                               f"model {size(rec['model_size']['bytes'])}; rows {rec.get('rows')}; "
                               f"load {rec['load_before'][0]:.1f}"))
        for key, name in (("kpi_column_table", "KPI, column table"), ("kpi", "KPI queries")):
            k = s.get(key, {"ok": None})
            if k["ok"]:
                rows.append((name, f"p50 {k['overall']['p50_ms']:.0f} ms, p95 {k['overall']['p95_ms']:.0f} ms, "
                                   f"max {k['overall']['max_ms']:.0f} ms over {k['overall']['n']} timings"))
                for kind, b in k["by_kind"].items():
                    rows.append((f"  {kind}", f"p50 {b['p50_ms']:.0f} / p95 {b['p95_ms']:.0f} ms ({b['queries']} queries)"))
            elif k["ok"] is False:
                rows.append((name, describe(k)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {text}" for name, text in rows)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child_main(argv[1], argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", help="results JSON (default bench/engine-<users>-<days>.json)")
    parser.add_argument("--keep", metavar="DIR", help="build the project in DIR (new or empty) and keep it")
    parser.add_argument("--data", metavar="DIR", help="demo warehouse directory: generated once, then reused")
    parser.add_argument("--data-only", action="store_true", help="generate (or check) --data, then stop")
    parser.add_argument("--floor-only", action="store_true", help="stop after the floor (no jobs, no queries)")
    parser.add_argument("--kpi-repeats", type=int, default=3)
    parser.add_argument("--floor-runs", type=int, default=3)
    parser.add_argument("--memory-limit", help="DuckDB memory_limit for the floor (default: the engine's)")
    parser.add_argument("--label", default="", help="free text stored with the results")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                        help="run the jobs on DuckDB (default) or Spark local[2]")
    args = parser.parse_args(argv)
    results = run(args)
    print(table(results))
    if args.data_only:
        return
    suffix = "-spark" if args.engine == "spark" else ""
    out = Path(args.out) if args.out else HERE.parent / f"engine-{args.users}-{args.days}{suffix}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
