"""Benchmark: demo generation, full refresh vs a one-pass floor, KPI query latency.

    python bench/run.py --users 10000 --days 90 --out bench/results-10k-90d.json
    python bench/run.py --users 100000 --days 180 --out bench/results-100k-180d.json

Every measured step runs in its own fresh Python process (``bench/_child.py``); its peak
resident set size is the ``ru_maxrss`` the kernel reports for that process when it
exits (``os.wait4``: the same figure ``getrusage(RUSAGE_CHILDREN)`` would give, but for
that one child). What each number means: docs/performance.md.
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
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_child.py"
REPO = HERE.parent


# -- running one measured step -------------------------------------------------------------
class SpillWatch(threading.Thread):
    """Polls a directory every 50 ms for DuckDB spill files (``duckdb_temp*``); keeps the
    largest total size seen. A spill shorter than the interval can be missed."""

    def __init__(self, directory: Path | None) -> None:
        super().__init__(daemon=True)
        self.directory = directory
        self.max_bytes = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while self.directory is not None and not self.stop.wait(0.05):
            total = 0
            for root, _dirs, names in os.walk(self.directory):
                for name in names:
                    if name.startswith("duckdb_temp"):
                        try:
                            total += os.path.getsize(os.path.join(root, name))
                        except OSError:
                            pass
            self.max_bytes = max(self.max_bytes, total)


def busy_cpu_seconds() -> float | None:
    """CPU time all processes on the machine have used (``/proc/stat``: user, nice, system,
    irq, softirq, steal), to show how much of it was not ours during a step."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure(*args: str, env_extra: dict | None = None, spill_dir: Path | None = None) -> dict:
    """Run ``_child.py args`` in a fresh process; its JSON plus wall time and peak RSS."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(env_extra or {})
    watch = SpillWatch(spill_dir)
    busy0 = busy_cpu_seconds()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, env=env, cwd=str(REPO))
    watch.start()
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    busy1 = busy_cpu_seconds()
    watch.stop.set()
    watch.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if proc.returncode != 0:
        raise SystemExit(f"step {' '.join(args)} failed with exit code {proc.returncode}\n{out.decode()[-2000:]}")
    lines = [line for line in out.decode().splitlines() if line.strip()]
    payload = json.loads(lines[-1])
    payload["process_wall_seconds"] = wall
    payload["peak_rss_kb"] = usage.ru_maxrss  # KiB on Linux
    payload["user_cpu_seconds"] = usage.ru_utime
    payload["system_cpu_seconds"] = usage.ru_stime
    if busy0 is not None and busy1 is not None:
        # CPU seconds used by anything else (other processes, this parent) while the step ran.
        payload["other_cpu_seconds"] = max(0.0, busy1 - busy0 - usage.ru_utime - usage.ru_stime)
    if spill_dir is not None:
        payload["max_spill_bytes_seen"] = watch.max_bytes
    return payload


# -- statistics -----------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return percentile(values, 50)


def summary_ms(seconds: list[float]) -> dict:
    return {"n": len(seconds), "p50_ms": percentile(seconds, 50) * 1000, "p95_ms": percentile(seconds, 95) * 1000,
            "max_ms": max(seconds) * 1000, "mean_ms": sum(seconds) / len(seconds) * 1000}


# -- facts about the machine, the data, the model (not timed) -------------------------------
def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "asemic_core"], cwd=REPO,
                               capture_output=True, text=True).stdout.split("\n")
        dirty = [line for line in dirty if line.strip()]
    except OSError:
        commit, dirty = "", []
    versions = {}
    for name in ("duckdb", "polars", "pyarrow", "sqlglot", "asemic"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "mem_total_gib": mem_kb / 1024 / 1024 if mem_kb else None,
            "platform": platform.platform(), "python": platform.python_version(), "versions": versions,
            "git_commit": commit, "package_changes_not_committed": dirty}


def tree_size(path: Path, suffix: str = "") -> tuple[int, int]:
    total = files = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            if name.endswith(suffix):
                total += os.path.getsize(os.path.join(root, name))
                files += 1
    return total, files


def data_facts(project_dir: Path) -> dict:
    """Distinct (user, day) pairs in the events, and the shape of the written model."""
    import duckdb

    from_events = "\nUNION\n".join(f"SELECT user_id, event_date FROM game.{t}" for t in
                                   ("registrations", "sessions", "purchases", "ad_views", "level_completions"))
    con = duckdb.connect(str(project_dir / "warehouse.duckdb"), read_only=True)
    try:
        distinct_user_days = con.sql(f"SELECT count(*) FROM ({from_events})").fetchall()[0][0]
        users = con.sql("SELECT count(DISTINCT user_id) FROM game.registrations").fetchall()[0][0]
    finally:
        con.close()
    model = project_dir / ".asemic" / "model" / "tables"
    daily_bytes, daily_files = tree_size(model / "daily", ".parquet")
    users_bytes, users_files = tree_size(model / "users", ".parquet")
    days = len(list((model / "daily").iterdir())) if (model / "daily").exists() else 0
    con = duckdb.connect()
    try:
        daily_columns = [r[0] for r in con.sql(
            f"DESCRIBE SELECT * FROM read_parquet('{model}/daily/*/*/*.parquet')").fetchall()]
        daily_rows = con.sql(f"SELECT count(*) FROM read_parquet('{model}/daily/*/*/*.parquet')").fetchall()[0][0]
    finally:
        con.close()
    return {"registered_users": users, "distinct_event_user_days": distinct_user_days,
            "model_daily_rows": daily_rows, "model_daily_columns": len(daily_columns),
            "model_daily_column_names": daily_columns, "model_daily_partitions": days,
            "model_daily_parquet_files": daily_files, "model_daily_parquet_bytes": daily_bytes,
            "model_users_parquet_bytes": users_bytes, "model_users_parquet_files": users_files,
            "warehouse_bytes": os.path.getsize(project_dir / "warehouse.duckdb")}


# -- the run ------------------------------------------------------------------------------------
def run(args) -> dict:
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="asemic-bench-"))
    project_dir = workdir / "project"
    floor_dir = workdir / "floor"
    floor_dir.mkdir(parents=True, exist_ok=True)
    if project_dir.exists():
        raise SystemExit(f"{project_dir} exists; pass an empty --workdir")
    results: dict = {"spec": {"users": args.users, "days": args.days, "seed": args.seed},
                     "started": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
                     "settings": {"floor_runs": args.floor_runs, "refresh_runs": args.refresh_runs,
                                  "kpi_repeats": args.kpi_repeats}}
    try:
        log(f"demo: generating {args.users:,} users x {args.days} days in {project_dir}")
        results["demo"] = measure("demo", str(project_dir), str(args.users), str(args.days), str(args.seed))
        log(f"  {results['demo']['seconds']:.1f} s")

        for mode in ("temp", "parquet"):
            runs = []
            for i in range(args.floor_runs):
                log(f"floor ({mode}) run {i + 1}/{args.floor_runs}")
                runs.append(measure("floor", str(project_dir), mode, str(floor_dir)))
                log(f"  {runs[-1]['seconds']:.2f} s, peak RSS {runs[-1]['peak_rss_kb'] / 1024:.0f} MiB, "
                    f"other CPU {runs[-1].get('other_cpu_seconds', 0):.1f} s")
                (floor_dir / "floor_groups.parquet").unlink(missing_ok=True)
            results[f"floor_{mode}"] = {"runs": runs, **aggregate(runs)}

        runs = []
        for i in range(args.refresh_runs):
            log(f"refresh run {i + 1}/{args.refresh_runs}")
            runs.append(measure("refresh", str(project_dir), spill_dir=project_dir / ".asemic" / "model" / "tmp"))
            log(f"  {runs[-1]['seconds']:.1f} s, peak RSS {runs[-1]['peak_rss_kb'] / 1024:.0f} MiB, "
                f"phases {fmt_phases(runs[-1]['phases'])}, other CPU {runs[-1].get('other_cpu_seconds', 0):.1f} s")
        results["refresh"] = {"runs": runs, **aggregate(runs)}

        log("data facts (not timed)")
        results["facts"] = data_facts(project_dir)

        log(f"KPI queries: warm-up + {args.kpi_repeats} rounds")
        kpi = measure("kpi", str(project_dir), str(args.kpi_repeats))
        kinds: dict[str, list[float]] = {}
        for q in kpi["queries"]:
            kinds.setdefault(q["kind"], []).extend(q["seconds"])
            q["summary"] = summary_ms(q["seconds"])
        everything = [s for values in kinds.values() for s in values]
        warmups = [q["warmup_seconds"] for q in kpi["queries"]]
        kpi["overall"] = summary_ms(everything)
        kpi["by_kind"] = {kind: {"queries": sum(1 for q in kpi["queries"] if q["kind"] == kind), **summary_ms(v)}
                          for kind, v in kinds.items()}
        kpi["warmup"] = summary_ms(warmups)
        results["kpi"] = kpi

        refresh_s = results["refresh"]["median_seconds"]
        results["ratio"] = {
            "refresh_over_floor_temp": refresh_s / results["floor_temp"]["median_seconds"],
            "refresh_over_floor_parquet": refresh_s / results["floor_parquet"]["median_seconds"],
            "refresh_over_floor_temp_process_wall": results["refresh"]["median_process_wall_seconds"]
            / results["floor_temp"]["median_process_wall_seconds"],
            "refresh_peak_rss_over_floor_temp": results["refresh"]["max_peak_rss_kb"]
            / results["floor_temp"]["max_peak_rss_kb"],
        }
    finally:
        if args.keep:
            log(f"kept {workdir}")
        elif not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    return results


def aggregate(runs: list[dict]) -> dict:
    return {"median_seconds": median([r["seconds"] for r in runs]),
            "median_process_wall_seconds": median([r["process_wall_seconds"] for r in runs]),
            "max_peak_rss_kb": max(r["peak_rss_kb"] for r in runs)}


def fmt_phases(phases: dict) -> str:
    return ", ".join(f"{k} {v:.1f}s" for k, v in phases.items())


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- the printed table -------------------------------------------------------------------------
def report(r: dict) -> str:
    mib = lambda kb: f"{kb / 1024:,.0f} MiB"  # noqa: E731
    m = r["machine"]
    f = r["facts"]
    rows = [
        ("machine", f"{m['logical_cpus']} CPUs ({m['cpu']}), {m['mem_total_gib']:.1f} GiB RAM"),
        ("versions", f"python {m['python']}, duckdb {m['versions']['duckdb']}, polars {m['versions']['polars']}, "
                     f"asemic at {m['git_commit']}{' (+ uncommitted package changes)' if m['package_changes_not_committed'] else ''}"),
        ("spec", f"{r['spec']['users']:,} users x {r['spec']['days']} days (seed {r['spec']['seed']})"),
        ("event rows", ", ".join(f"{k.split('.')[-1]} {v:,}" for k, v in r["demo"]["table_rows"].items())),
        ("demo generation", f"{r['demo']['seconds']:.1f} s (process {r['demo']['process_wall_seconds']:.1f} s), "
                            f"peak RSS {mib(r['demo']['peak_rss_kb'])}"),
        ("refresh", f"{r['refresh']['median_seconds']:.1f} s (process {r['refresh']['median_process_wall_seconds']:.1f} s), "
                    f"peak RSS {mib(r['refresh']['max_peak_rss_kb'])}"),
        ("refresh phases", fmt_phases(r["refresh"]["runs"][0]["phases"])),
        ("refresh spill seen", f"{r['refresh']['runs'][0].get('max_spill_bytes_seen', 0) / 2**20:,.0f} MiB of duckdb_temp files"),
        ("floor (temp table)", f"{r['floor_temp']['median_seconds']:.2f} s (process "
                               f"{r['floor_temp']['median_process_wall_seconds']:.2f} s), "
                               f"peak RSS {mib(r['floor_temp']['max_peak_rss_kb'])}"),
        ("floor (parquet)", f"{r['floor_parquet']['median_seconds']:.2f} s, peak RSS {mib(r['floor_parquet']['max_peak_rss_kb'])}"),
        ("ratio refresh/floor", f"{r['ratio']['refresh_over_floor_temp']:.1f}x (temp table), "
                                f"{r['ratio']['refresh_over_floor_parquet']:.1f}x (parquet)"),
        ("other CPU during steps", ", ".join(
            f"{name} {sum(x.get('other_cpu_seconds', 0) for x in runs):.1f} s" for name, runs in (
                ("demo", [r["demo"]]), ("floors", r["floor_temp"]["runs"] + r["floor_parquet"]["runs"]),
                ("refresh", r["refresh"]["runs"]), ("kpi", [r["kpi"]])))
            + " (CPU time used by other processes while a step ran; 0 = quiet machine)"),
        ("model rows vs groups", f"{f['model_daily_rows']:,} model rows vs {r['floor_temp']['runs'][0]['groups']:,} "
                                 f"floor groups ({f['distinct_event_user_days']:,} distinct user-days)"),
        ("model on disk", f"{f['model_daily_columns']} columns, {f['model_daily_partitions']} day partitions, "
                          f"{f['model_daily_parquet_files']} files, {f['model_daily_parquet_bytes'] / 2**20:,.1f} MiB"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append("")
    lines.append(f"{'KPI queries':<24} {'queries':>7} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    kpi = r["kpi"]
    for kind, s in [*kpi["by_kind"].items(), ("overall", {"queries": len(kpi["queries"]), **kpi["overall"]}),
                    ("warm-up (first run)", {"queries": len(kpi["queries"]), **kpi["warmup"]})]:
        lines.append(f"{kind:<24} {s['queries']:>7} {s['n']:>5} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f} {s['max_ms']:>8.1f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--floor-runs", type=int, default=3, help="fresh-process runs of each floor query (median)")
    parser.add_argument("--refresh-runs", type=int, default=1, help="fresh-process full refreshes (median)")
    parser.add_argument("--kpi-repeats", type=int, default=5, help="timed rounds of the query mix after one warm-up")
    parser.add_argument("--workdir", help="use this (empty) directory instead of a temporary one; kept afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    results = run(args)
    print(report(results))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
