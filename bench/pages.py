"""Render time of every studio page on the default demo project, in headless Chromium.

    python bench/pages.py [--out bench/pages.json]

Creates the default demo (3,000 users x 90 days) and refreshes it, serves the studio,
then for each page: open it in a new tab and time until Streamlit has finished running
the page (the status widget is gone). Each page is opened once to warm caches, then
three more times; the median is reported. A second pass repeats the timings while a
refresh runs in another process (the UI must stay responsive during jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from asemic_core.demo.project import init_demo
from asemic_core.project import Project

REPO = Path(__file__).resolve().parents[1]
PAGES = ["", "events", "properties", "kpis", "schema", "explore", "jobs", "export"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
DONE = ("() => { const w = document.querySelector('[data-testid=\"stStatusWidget\"]');"
        " return document.querySelector('h1') && (!w || !(w.innerText.includes('Running') || w.innerText.includes('Stop'))); }")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_pages(browser, url: str, repeats: int = 3) -> dict[str, float]:
    results = {}
    for path in PAGES:
        samples = []
        for attempt in range(repeats + 1):
            tab = browser.new_page(viewport={"width": 1440, "height": 1000})
            start = time.monotonic()
            tab.goto(f"{url}/{path}")
            tab.wait_for_function(DONE, timeout=120_000, polling=50)
            elapsed = time.monotonic() - start
            tab.close()
            if attempt:  # the first opening warms the caches
                samples.append(elapsed)
        results[path or "overview"] = statistics.median(samples)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="asemic-pages-") as tmp:
        root = Path(tmp) / "demo"
        init_demo(root)
        Project(root).refresh(origin="bench")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
             "--server.headless", "true", "--server.fileWatcherType", "none"],
            cwd=REPO, env=dict(os.environ, ASEMIC_PROJECT=str(root)), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                idle = time_pages(browser, url)
                job = subprocess.Popen([sys.executable, "-m", "asemic_core.cli", "--project", str(root), "model",
                                        "refresh"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                during = time_pages(browser, url, repeats=1)
                job_running_at_end = job.poll() is None
                job.wait()
                browser.close()
        finally:
            server.terminate()
            server.wait()
    print(f"{'page':12} {'idle (s)':>9} {'during a refresh (s)':>21}")
    for page in idle:
        print(f"{page:12} {idle[page]:9.2f} {during[page]:21.2f}")
    if args.out:
        args.out.write_text(json.dumps({"idle_median_s": idle, "during_refresh_s": during,
                                        "refresh_still_running_at_end": job_running_at_end}, indent=2) + "\n")


if __name__ == "__main__":
    main()
