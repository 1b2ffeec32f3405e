"""One publish across every process, as a timeline: ``python -m bench.timeline [--publishes 3]``.

Runs the latency rig (bench/latency_rig.py) with JSON logs at DEBUG, so every process
(web, worker, beat and its relay, the second web node) writes each step with a
millisecond timestamp: the hook's commit, the relay, each Celery task received and done,
the plan, the render and store, the deliveries, and each web node's cache. Each publish
is printed as those lines in order, in milliseconds from the hook request, together with
what the outside saw (the hook's answer, each web node's RSS over HTTP, the partner's
webhook, the mail at the SMTP server). Gaps between lines are the waits to remove.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.latency_rig import PATHS, Observation, running_rig

# Lines that say nothing about one publish: liveness and housekeeping.
_NOISE = (
    "GET /feeds/rss.xml",
    "heartbeat",
    "sweep",
    "readyz",
    "/healthz",
    "beat:alive",
    "prune",
    "digest",
)


def _lines(path: Path, source: str) -> list[tuple[float, str, dict]]:
    found = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(line, dict) or "time" not in line:
            continue
        at = time.mktime(time.strptime(line["time"][:19], "%Y-%m-%dT%H:%M:%S"))
        at += float("0." + line["time"][20:23]) - time.timezone
        found.append((at, source, line))
    return found


def _describe(line: dict) -> str:
    fields = {k: v for k, v in line.items() if k not in ("time", "level", "logger", "task_id")}
    text = " ".join(f"{k}={v}" for k, v in fields.items())
    return f"{line.get('logger', '')}: {text}"[:160]


def print_timeline(number: int, seen: Observation, logs: list[tuple[float, str, dict]]) -> None:
    end = seen.started_wall + max(seen.paths.values()) + 0.05
    rows: list[tuple[float, str]] = [(0.0, "bench: hook request sent")]
    rows.append((seen.hook, "bench: hook answered 202"))
    rows += [(at, f"bench: {PATHS[name]}") for name, at in seen.paths.items()]
    for at, source, line in logs:
        if seen.started_wall - 0.005 <= at <= end:
            text = _describe(line)
            if not any(noise in text for noise in _NOISE):
                rows.append((at - seen.started_wall, f"[{source}] {text}"))
    print(f"\n--- publish {number} ---")
    for at, text in sorted(rows, key=lambda row: row[0]):
        print(f"{at * 1000:8.1f} ms  {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timeline", description=__doc__)
    parser.add_argument("--publishes", type=int, default=3, help="publishes to show (3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SYNDICATOR_LOG_FORMAT": "json", "SYNDICATOR_LOG_LEVEL": "DEBUG"}
        observed = []
        with running_rig(Path(tmp), **env) as rig:
            rig.publish(0)  # warm-up: imports, templates, connections
            for n in range(1, args.publishes + 1):
                time.sleep(1.0)  # a quiet second, as between a city's releases
                observed.append((n, rig.publish(n)))
        logs = _lines(Path(tmp) / "system.log", "run") + _lines(Path(tmp) / "web2.log", "web2")
    for n, seen in observed:
        print_timeline(n, seen, logs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
