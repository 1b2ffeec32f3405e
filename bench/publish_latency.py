"""Publish to reader: what readers see over HTTP, on every path, after a quiet second.

The whole system runs as `make run` does (embedded Redis, SQLite, one worker, beat), with
a second `syndicator web` beside it, a partner and one subscriber (bench/latency_rig.py).
Each publish goes through the signed hook; latency runs from the hook request until:

- web: `/feeds/rss.xml` on the run's own web node shows the release (polled every 10 ms
  over HTTP, conditionally, as readers poll);
- second_web: the same on the second web node (another process, same database);
- partner: the partner's webhook arrives at a real HTTP receiver;
- inbox: the subscriber's newsletter reaches a real SMTP server.

The hook's own round trip (sign, POST, commit, 202) is measured in the same run: the part
no pipeline can avoid. Targets are issue 20's, for an idle 2-core machine.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import percentile
from bench.latency_rig import PATHS, running_rig

PUBLISHES = 60
QUIET_SECONDS = 1.0  # between publishes: a city publishes a few releases a day
# (p50, p95) in seconds, per path.
TARGETS = {
    "web": (0.15, 0.4),
    "second_web": (0.15, 0.4),
    "partner": (0.15, 0.4),
    "inbox": (0.3, 0.8),
}


def main() -> bool:
    with tempfile.TemporaryDirectory() as tmp, running_rig(Path(tmp)) as rig:
        rig.publish(0)  # warm-up: imports, templates, connections, not counted
        observed = []
        for n in range(1, PUBLISHES + 1):
            time.sleep(QUIET_SECONDS)
            observed.append(rig.publish(n))
    hooks = [o.hook for o in observed]
    print(
        f"hook round trip: p50 {percentile(hooks, 50) * 1000:.1f} ms, "
        f"p95 {percentile(hooks, 95) * 1000:.1f} ms over {PUBLISHES} publishes"
    )
    passed = True
    for name, what in PATHS.items():
        values = [o.paths[name] for o in observed]
        p50, p95 = percentile(values, 50), percentile(values, 95)
        t50, t95 = TARGETS[name]
        ok = p50 <= t50 and p95 <= t95
        passed &= ok
        print(
            f"{name:<10} p50 {p50 * 1000:6.1f} ms ({p50 / t50:4.2f} × target {t50 * 1000:.0f}), "
            f"p95 {p95 * 1000:6.1f} ms ({p95 / t95:4.2f} × target {t95 * 1000:.0f})  "
            f"{'PASS' if ok else 'FAIL'}  {what}"
        )
    return passed


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
