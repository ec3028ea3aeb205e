"""Long-lived objects out of the cyclic garbage collector's way.

A process that answers queries for a long time (the studio, a benchmark) keeps a few
object graphs for its whole life: the modules, the resolved config, compiled KPI trees,
pinned table versions. Every full collection traversed them again: at 1,000,000 x 365 one
KPI query in about forty took 40 ms longer (docs/performance.md). ``keep_for_life`` is called
when such objects are created or cached: it collects what is garbage, then freezes the
rest (``gc.freeze``: frozen objects are never traversed). A cache that drops its entries
calls ``release`` first, so that the cycles it held can be collected again.

A job (``job_objects``) skips that: what it loads lives as long as the job, usually the
whole process (a CLI job), and the full collections before its freezes cost a job ~10-20 ms. The
next reader's ``keep_for_life`` freezes whatever is still alive then. While a job runs, the
collector's own full collections wait too (each traverses every module and library object:
~14 ms in a 7-day rewind at 100,000 x 180); the younger generations are still collected, and
the thresholds are restored when the last running job ends.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_jobs = threading.local()  # per thread: a reader thread beside a job still freezes its objects
FULL_COLLECTION_DELAY = 1_000  # while a job runs: a full collection every 1,000 of the middle generation's
_running = {"jobs": 0, "thresholds": None}  # jobs running in this process, the thresholds before the first
_running_lock = threading.Lock()


def keep_for_life() -> None:
    if getattr(_jobs, "running", 0):
        return
    gc.collect()
    gc.freeze()


def release() -> None:
    gc.unfreeze()


@contextmanager
def job_objects():
    """Within: the objects this thread creates or caches are a job's, not kept for life."""
    _jobs.running = getattr(_jobs, "running", 0) + 1
    with _running_lock:
        if not _running["jobs"]:
            _running["thresholds"] = gc.get_threshold()
            young, middle, full = _running["thresholds"]
            gc.set_threshold(young, middle, max(full, FULL_COLLECTION_DELAY))
        _running["jobs"] += 1
    try:
        yield
    finally:
        _jobs.running -= 1
        with _running_lock:
            _running["jobs"] -= 1
            if not _running["jobs"]:
                gc.set_threshold(*_running["thresholds"])
