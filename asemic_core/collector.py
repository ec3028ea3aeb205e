"""Long-lived objects out of the cyclic garbage collector's way.

A process that answers queries for a long time (the studio, a benchmark) keeps a few
object graphs for its whole life: the modules, the resolved config, compiled KPI trees,
pinned table versions. Every full collection traversed them again: at 1,000,000 x 365 one
KPI query in about forty took 40 ms longer (docs/performance.md). ``keep_for_life`` is called
when such objects are created or cached: it collects what is garbage, then freezes the
rest (``gc.freeze``: frozen objects are never traversed). A cache that drops its entries
calls ``release`` first, so that the cycles it held can be collected again.
"""

from __future__ import annotations

import gc


def keep_for_life() -> None:
    gc.collect()
    gc.freeze()


def release() -> None:
    gc.unfreeze()
