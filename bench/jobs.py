"""Incremental jobs against a full refresh, on the demo dataset.

    python bench/jobs.py --users 100000 --days 180 [--out bench/jobs.json]

Steps, each timed in this process (wall clock):
1. demo init, with model_settings.end_date one day before the data's last day;
2. refresh (the baseline);
3. end_date moved one day later, then `update`: one new day (plus the lookback days);
4. `update --kpi dau`: recompute only the columns DAU needs, on every day;
5. `update --kpi arpdau`: the same for a KPI over revenue and activity;
6. rewind of the last 7 days; the model's size on disk; a 30-day DAU query (p50 of 20).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from asemic_core.config import writer
from asemic_core.demo.dataset import DemoSpec
from asemic_core.demo.project import demo_entity, init_demo
from asemic_core.project import Project


def timed(label: str, action):
    start = time.monotonic()
    result = action()
    seconds = time.monotonic() - start
    print(f"{label:38} {seconds:8.2f} s", flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    spec = DemoSpec(users=args.users, days=args.days, seed=args.seed)
    last_day = spec.start_date + dt.timedelta(days=spec.days - 1)
    with tempfile.TemporaryDirectory(prefix="asemic-bench-") as tmp:
        root = Path(tmp) / "demo"
        results: dict = {"users": args.users, "days": args.days}
        results["demo_init_s"], _ = timed("demo init", lambda: init_demo(root, spec))
        entity = demo_entity()
        entity.model_settings.end_date = last_day - dt.timedelta(days=1)
        writer.save_entity_config(root, entity)
        project = Project(root)
        results["refresh_s"], refresh = timed("refresh (baseline)", project.refresh)
        results["refresh_rows"] = refresh.rows
        entity.model_settings.end_date = last_day
        writer.save_entity_config(root, entity)
        results["update_one_day_s"], update = timed("update: one new day", project.update)
        results["update_days"] = len(update.days)
        results["update_rows"] = update.rows
        results["partial_dau_s"], _ = timed("update --kpi dau", lambda: project.update(kpis=["dau"]))
        results["partial_arpdau_s"], _ = timed("update --kpi arpdau", lambda: project.update(kpis=["arpdau"]))
        results["rewind_7_days_s"], _ = timed("rewind of the last 7 days", lambda: project.rewind(
            last_day - dt.timedelta(days=6), last_day))
        model = project.model_dir()
        data = [f for f in model.rglob("*.parquet") if "_delta_log" not in f.parts]
        results["model_files"] = len(data)
        results["model_bytes"] = sum(f.stat().st_size for f in model.rglob("*") if f.is_file())
        print(f"{'model on disk':38} {results['model_bytes'] / 1e6:8.1f} MB in {len(data)} data file(s) "
              "(every kept version)")
        source = project.source()
        try:
            from asemic_core.query.kpi import KpiRequest

            times = []
            for _ in range(20):
                start = time.monotonic()
                project.kpi_query(KpiRequest("dau", last_day - dt.timedelta(days=29), last_day), source=source)
                times.append(time.monotonic() - start)
        finally:
            source.close()
        times.sort()
        results["kpi_dau_30d_p50_ms"] = times[len(times) // 2] * 1000
        print(f"{'KPI dau, 30 days (p50 of 20)':38} {results['kpi_dau_30d_p50_ms']:8.1f} ms")
        for key in ("update_one_day", "partial_dau", "partial_arpdau", "rewind_7_days"):
            results[f"{key}_fraction"] = results[f"{key}_s"] / results["refresh_s"]
            print(f"{key:38} {results[key + '_fraction'] * 100:7.1f} % of the refresh")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
