"""Where the refresh's time and memory go (supplements bench/run.py; not part of its targets).

    python bench/diagnose_refresh.py --users 100000 --days 180 --out bench/diagnose-100k-180d.json

On a fresh demo warehouse, each in its own process (peak RSS from ``os.wait4``):

* ``refresh``: the full refresh as the product runs it (memory_limit 4GB);
* ``refresh_mem16``: the same with DuckDB's memory_limit raised to 16GB (the module
  constant is overridden in the child, no package change): shows whether 4GB binds;
* ``sink_partitioned_parquet``: the refresh's compute-and-write loop alone (same SQL,
  same user batches), writing one Parquet file per day and batch, as the refresh does;
* ``sink_single_parquet``: the same SQL into one Parquet file per batch;
* ``sink_temp_table``: the same SQL into a DuckDB temporary table (no Parquet at all).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import log, machine, measure  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="asemic-diagnose-"))
    project = workdir / "project"
    results = {"spec": vars(args), "machine": machine(), "steps": {}}
    try:
        log(f"demo {args.users:,} x {args.days}")
        results["demo"] = measure("demo", str(project), str(args.users), str(args.days), str(args.seed))
        scratch = project / ".asemic" / "model" / "tmp"
        steps = [
            ("refresh", lambda: measure("refresh", str(project), spill_dir=scratch)),
            ("refresh_mem16", lambda: measure("refresh", str(project), spill_dir=scratch,
                                              env_extra={"BENCH_MEMORY_LIMIT": "16GB"})),
        ]
        for sink in ("partitioned_parquet", "single_parquet", "temp_table"):
            out = workdir / f"sink-{sink}"
            out.mkdir()
            steps.append((f"sink_{sink}", lambda out=out, sink=sink: measure(
                "model_sink", str(project), sink, str(out), spill_dir=out / "scratch")))
        for name, step in steps:
            log(name)
            results["steps"][name] = step()
            r = results["steps"][name]
            log(f"  {r['seconds']:.1f} s, peak RSS {r['peak_rss_kb'] / 1024:,.0f} MiB, "
                f"spill seen {r.get('max_spill_bytes_seen', 0) / 2**20:,.0f} MiB, other CPU {r.get('other_cpu_seconds', 0):.1f} s")
            shutil.rmtree(workdir / f"sink-{name[5:]}", ignore_errors=True) if name.startswith("sink_") else None
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'step':<26} {'seconds':>8} {'process s':>9} {'cpu s':>7} {'peak RSS MiB':>12} {'spill MiB':>9} {'other cpu s':>11}")
    for name, r in results["steps"].items():
        cpu = r["user_cpu_seconds"] + r["system_cpu_seconds"]
        print(f"{name:<26} {r['seconds']:>8.1f} {r['process_wall_seconds']:>9.1f} {cpu:>7.1f} "
              f"{r['peak_rss_kb'] / 1024:>12,.0f} {r.get('max_spill_bytes_seen', 0) / 2**20:>9,.0f} "
              f"{r.get('other_cpu_seconds', 0):>11.1f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
