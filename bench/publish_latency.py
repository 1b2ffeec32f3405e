"""Publish-to-feed latency on an idle system: 200 sequential publishes, p50 and p99.

The whole system runs as `make run` does (embedded Redis, SQLite, one worker, beat).
Latency is from the hook request until rss.xml on disk contains the release. The
ceiling is measured in the same run: the hook's own round trip (sign, POST, commit, 202),
the part no pipeline can avoid; the ratio says what the queue, worker and render add.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import percentile, verdict
from syndicator.channels.feeds import FeedsChannel
from syndicator.events.signing import generate_secret
from tests.factories import make_event
from tests.system import RunningSystem

PUBLISHES = 200
# Measured here at about 6: relay wake-up, two queue hops (fan-out, render) and the render.
CEILING_P50_RATIO = 10.0


def _wait_for_file(path: Path, needle: bytes, timeout: float = 30.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if needle in path.read_bytes():
                return time.perf_counter()
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    raise TimeoutError(f"{needle!r} never reached {path}")


def main() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "var" / "public" / "feeds" / "rss.xml"
        env = {
            "SYNDICATOR_DATA_DIR": str(Path(tmp) / "var"),
            "SYNDICATOR_CMS_SECRET": generate_secret(),
            # Watch the export: written right after the database commit, without polling it.
            "SYNDICATOR_FEEDS_EXPORT_DIR": str(feed.parent),
        }
        for key in ("SYNDICATOR_REDIS_URL", "SYNDICATOR_DATABASE_URL"):
            os.environ.pop(key, None)
        system = RunningSystem(env, Path(tmp) / "system.log").start()
        base = datetime.now(UTC) - timedelta(days=1)
        latencies, intake = [], []
        try:
            for n in range(PUBLISHES):
                when = (base + timedelta(minutes=n)).isoformat()
                event = make_event(10_000 + n, published_at=when, title=f"지연 측정 {n}번")
                started = time.perf_counter()
                answer = system.publish(event)
                intake.append(time.perf_counter() - started)
                assert answer.status_code == 202, answer.text
                latencies.append(_wait_for_file(feed, f"지연 측정 {n}번<".encode()) - started)
                # Idle: longer than the feeds channel's min_interval, which spaces renders
                # only within a burst.
                time.sleep(FeedsChannel.min_interval + 0.05)
        finally:
            system.stop()
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    floor = percentile(intake, 50) * 1000
    ratio = p50 / floor
    print(
        f"publish→feed: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {PUBLISHES} publishes; "
        f"hook round trip p50 {floor:.1f} ms"
    )
    print(
        f"publish→feed: p50 / hook round trip = {ratio:.1f} (ceiling {CEILING_P50_RATIO:.0f}) "
        f"{verdict(ratio, CEILING_P50_RATIO)}"
    )
    return ratio <= CEILING_P50_RATIO


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
