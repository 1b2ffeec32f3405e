"""Run the benchmarks in order and summarise: ``python -m bench [--only NAME ...]``.

Exits 1 if any benchmark failed its target or raised, 0 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

# Module name under bench/ and what it measures, in the order they run.
BENCHMARKS = {
    "backfill_scaling": "importing 10,000 releases vs 1,000",
    "feed_update": "one publish with 10,000 stored vs 100",
    "serve_feeds": "live RSS feed under 50 clients vs a 1-byte route",
    "publish_latency": "publish to readers over HTTP (two web nodes, a partner, an inbox)",
    "plan_scaling": "planning 100,000 targets vs 1,000: time and peak memory",
    "newsletter": "one release to 20,000 subscribers vs the SMTP ceiling; worker memory",
    "webhooks": "20 releases to 200 partners vs a plain aiohttp client",
    "board": "the residents' board: page 400 vs page 1 with 10,000 releases",
    "capacity": "CPU and database writes per message, call and render; the capacity model",
}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks; each compares a measurement with a ceiling "
        "measured in the same run and says PASS or FAIL.",
        epilog="benchmarks, in order: "
        + "; ".join(f"{name} ({what})" for name, what in BENCHMARKS.items()),
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help="run only this benchmark (repeatable); one of: " + ", ".join(BENCHMARKS),
    )
    return parser.parse_args(argv)


def _run(name: str) -> str:
    try:
        module = importlib.import_module(f"bench.{name}")
        return "PASS" if module.main() else "FAIL"
    except Exception:
        traceback.print_exc()
        return "ERROR"


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]
    results: list[tuple[str, str, float]] = []
    for name in chosen:
        print(f"\n=== {name}: {BENCHMARKS[name]} ===", flush=True)
        started = time.perf_counter()
        outcome = _run(name)
        results.append((name, outcome, time.perf_counter() - started))
        sys.stdout.flush()
    width = max(len(name) for name in chosen)
    print("\n=== summary ===")
    for name, outcome, seconds in results:
        print(f"{name:<{width}}  {outcome:<5}  {seconds:6.1f} s  {BENCHMARKS[name]}")
    failed = [name for name, outcome, _ in results if outcome != "PASS"]
    tail = f"; failed: {', '.join(failed)}" if failed else ""
    print(f"{len(results) - len(failed)} of {len(results)} passed{tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
