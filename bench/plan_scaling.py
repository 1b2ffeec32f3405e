"""Plan scaling: planning 100,000 targets for one event vs 1,000, in time and peak memory.

Each size runs in a fresh subprocess against a database prepared beforehand, so both
processes carry the same fixed costs (interpreter, imports, an open database). Just
before planning, the child resets its peak-RSS mark (``/proc/self/clear_refs``, Linux)
and reads its RSS; after planning it reads the peak (``VmHWM``). Their difference is
what planning itself held at its worst, C allocations included (SQLite's cache, the
driver's buffers), which tracemalloc would not see; tracemalloc would also slow the very
run it measures. Without ``clear_refs`` the peak is the process's whole-life peak, and
the difference between the two sizes still cancels the fixed costs.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from bench.common import ORIGIN, synthetic_event, verdict
from syndicator.channels.base import EventRecord, SyncChannel
from syndicator.delivery.runner import Enqueue, load_event, plan_event
from syndicator.intake.accept import accept_event
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade

SMALL, LARGE = 1_000, 100_000
CEILING_RATIO = 120.0  # linear is 100
CEILING_GROWTH_MB = 20.0


class Subscribers(SyncChannel):
    """Plans ``count`` subscriber references, as a newsletter reading its list would."""

    name: ClassVar[str] = "newsletter"
    queue: ClassVar[str] = "email"

    def __init__(self, count: int) -> None:
        self.count = count

    def plan(self, event: EventRecord) -> Iterator[str]:
        return (f"subscriber:{n}" for n in range(self.count))


def _status_kb(field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(match[1]) if match else None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(database_url: str, event_id: str, count: int) -> None:
    """Plan ``count`` targets; print seconds, RSS before and peak RSS (KiB) as JSON."""
    db = Database(database_url)
    event = load_event(db, event_id)
    assert event is not None
    sent = 0

    def send(item: Enqueue) -> None:
        nonlocal sent
        sent += len(item.delivery_ids)

    reset = _reset_peak()
    before = _status_kb("VmRSS") or 0
    started = time.perf_counter()
    plan_event(db, {Subscribers.name: Subscribers(count)}, event, send)
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert sent == count, (sent, count)
    print(json.dumps({"seconds": seconds, "before_kb": before, "peak_kb": peak, "reset": reset}))


def measure(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'plan.db'}"
        upgrade(url)
        with Database(url) as db:
            accepted = accept_event(db, synthetic_event(1, ORIGIN), webhook_id=f"msg_{count}")
        command = [sys.executable, "-m", "bench.plan_scaling", url, accepted.event_id, str(count)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> bool:
    small, large = measure(SMALL), measure(LARGE)
    ratio = large["seconds"] / small["seconds"]
    # Growth while planning: the peak over the RSS just before (the fixed costs cancel).
    runs = ((SMALL, small), (LARGE, large))
    growth = {n: (m["peak_kb"] - m["before_kb"]) / 1024 for n, m in runs}
    extra = growth[LARGE] - growth[SMALL]
    how = "peak reset before planning" if large["reset"] else "whole-process peak"
    for n, m in runs:
        print(
            f"plan: {n:,} targets {m['seconds']:.2f} s ({n / m['seconds']:,.0f} targets/s), "
            f"RSS {m['before_kb'] / 1024:.1f} MB before, peak {m['peak_kb'] / 1024:.1f} MB "
            f"(+{growth[n]:.1f} MB; {how})"
        )
    print(
        f"plan: time ratio {LARGE:,}/{SMALL:,} = {ratio:.1f} (ceiling {CEILING_RATIO:.0f}, "
        f"linear is 100) {verdict(ratio, CEILING_RATIO)}"
    )
    print(
        f"plan: peak RSS growth {LARGE:,} vs {SMALL:,} = {extra:+.1f} MB "
        f"(ceiling {CEILING_GROWTH_MB:.0f} MB) {verdict(extra, CEILING_GROWTH_MB)}"
    )
    return ratio <= CEILING_RATIO and extra <= CEILING_GROWTH_MB


if __name__ == "__main__":
    if len(sys.argv) == 4:
        child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(0 if main() else 1)
