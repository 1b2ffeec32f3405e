"""Garbage collection tuned for long-lived worker processes.

A worker allocates a handful of short-lived objects per delivery (a task, futures, an
outcome, an attempt record) over a heap of long-lived ones: every import, the Celery app,
the database engine, the channels. With CPython's defaults a full collection walks that
whole heap every few thousand deliveries, and in bench/webhooks.py collections took about
a quarter of a delivery worker's CPU.

So, once a process is set up: the heap it has is frozen (moved to the permanent
generation, which no collection walks; in a prefork child that also keeps the pages it
shares with its parent unwritten), and the youngest generation collects after
:data:`YOUNG_THRESHOLD` net allocations instead of 700. Cycles are still collected,
just in fewer, cheaper passes.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle_heap"]

YOUNG_THRESHOLD = 10_000
# Collections of the youngest generation per middle one, and of the middle per oldest.
_OLDER_THRESHOLDS = (20, 20)


def settle_heap() -> None:
    """Freeze what this process has built so far and collect young objects less often."""
    gc.collect()  # what is garbage already need not be kept forever
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *_OLDER_THRESHOLDS)
