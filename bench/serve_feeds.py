"""Serving the live RSS feed with 50 concurrent clients: req/s against a 1-byte route.

The real app (bench.serve_app: create_app plus GET /bench/one answering b"x") runs under
uvicorn in a subprocess with the HTTP protocol `syndicator web` uses, one worker, no access
log, on a store of 100 synthetic releases, so /feeds/rss.xml is a realistic live feed of ~40
KB (sent uncompressed: the clients send no Accept-Encoding). The load generator is another
process (wrk when installed, else bench.load_client) holding 50 keep-alive connections; on a
2-core machine it competes with the server for CPU, alike for every URL, so the ratios are
fair. Every response is checked (status and body length; with wrk, the bytes read per
response), so a broken server cannot pass.

The ceiling is the 1-byte route measured in the same run; rss.xml, full (200) and
revalidated (If-None-Match, 304), must each reach FLOOR of its rate. This machine's speed
drifts by tens of percent over seconds, so the URLs take turns in short slices (0.5 s with
bench.load_client, 1 s wrk runs) and each round's ratio compares rates measured side by
side; the verdict is on the median round.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import synthetic_events
from bench.serve_app import CEILING_PATH
from syndicator.config import load_settings
from syndicator.feeds.publish import rebuild_all
from syndicator.intake.accept import import_events
from syndicator.store import documents
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade

RELEASES = 100
CONNECTIONS = 50
WARMUP_SECONDS = 1
DURATION_SECONDS = 5
ROUNDS = 3
FLOOR = 0.7
FEED_PATH = "/feeds/rss.xml"
ROOT = Path(__file__).resolve().parents[1]
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class Target:
    label: str
    path: str
    headers: tuple[str, ...]
    status: int
    length: int  # body bytes each response must carry


def _prepare(data_dir: Path) -> bytes:
    settings = load_settings({"SYNDICATOR_DATA_DIR": str(data_dir)})
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        import_events(db, synthetic_events(RELEASES))
        rebuild_all(db, settings)
        with db.session() as session:
            stored = documents.load(session, "rss.xml")
    finally:
        db.dispose()
    assert stored is not None
    return stored.body


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        body = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, body
    finally:
        conn.close()


@contextmanager
def _server(data_dir: Path, log_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["SYNDICATOR_DATA_DIR"] = str(data_dir)
    port = _free_port()
    command = [sys.executable, "-m", "bench.serve_app", str(port)]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"uvicorn exited {server.returncode}: {log_path.read_text()}")
            try:
                if _fetch(port, CEILING_PATH)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn not answering: {log_path.read_text()}")
            time.sleep(0.1)
        yield port, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _targets(port: int, feed: bytes) -> list[Target]:
    """Check each URL once by hand, and describe what every loaded response must be."""
    status, _, body = _fetch(port, CEILING_PATH)
    assert (status, body) == (200, b"x"), (status, body[:100])
    status, headers, body = _fetch(port, FEED_PATH)
    assert status == 200 and body == feed, (status, len(body), len(feed))
    assert "content-encoding" not in headers, headers
    etag = headers["etag"]
    status, _, body = _fetch(port, FEED_PATH, {"If-None-Match": etag})
    assert (status, body) == (304, b""), (status, body[:100])
    return [
        Target("GET /bench/one (ceiling)", CEILING_PATH, (), 200, 1),
        Target("GET /feeds/rss.xml", FEED_PATH, (), 200, len(feed)),
        Target("GET /feeds/rss.xml, If-None-Match", FEED_PATH, (f"If-None-Match: {etag}",), 304, 0),
    ]


def _size(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]?B)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _wrk(wrk: str, port: int, target: Target, seconds: int) -> tuple[int, float]:
    """One wrk run: (responses, seconds), every response checked as far as wrk allows."""
    headers = [arg for h in target.headers for arg in ("-H", h)]
    url = f"http://127.0.0.1:{port}{target.path}"
    command = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", *headers, url]
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+[KMGT]?B) read", out)
    assert done is not None, out
    requests, read = int(done.group(1)), _size(done.group(4))
    elapsed = float(done.group(2)) * _TIME_UNITS[done.group(3)]
    assert requests > 0 and "Non-2xx or 3xx" not in out and "Socket errors" not in out, out
    # wrk checks no statuses beyond 2xx/3xx: the bytes read per response tell 200 from 304.
    per_response = read / requests
    if target.status == 304:
        assert per_response < 1024, out
    else:
        assert target.length <= per_response < target.length + 1024, out
    return requests, elapsed


def _measure_wrk(wrk: str, port: int, targets: list[Target]) -> list[list[float]]:
    """Per target, the req/s of each round: 1-second wrk runs, the URLs taking turns."""
    for target in targets:
        _wrk(wrk, port, target, WARMUP_SECONDS)
    rates: list[list[float]] = [[] for _ in targets]
    for _ in range(ROUNDS):
        totals = [(0, 0.0)] * len(targets)
        for _ in range(DURATION_SECONDS):
            for i, target in enumerate(targets):
                requests, elapsed = _wrk(wrk, port, target, 1)
                totals[i] = (totals[i][0] + requests, totals[i][1] + elapsed)
        for i, (requests, elapsed) in enumerate(totals):
            rates[i].append(requests / elapsed)
    return rates


def _measure_python(port: int, targets: list[Target]) -> list[list[float]]:
    """Per target, the req/s of each round: one client run, targets interleaved by slices."""
    specs = [" ".join([t.path, str(t.status), str(t.length), *t.headers]) for t in targets]
    command = [
        sys.executable,
        "-m",
        "bench.load_client",
        f"127.0.0.1:{port}",
        *(f"--target={spec}" for spec in specs),
        f"--connections={CONNECTIONS}",
        f"--warmup={WARMUP_SECONDS}",
        f"--duration={DURATION_SECONDS}",
        f"--rounds={ROUNDS}",
    ]
    budget = WARMUP_SECONDS + ROUNDS * DURATION_SECONDS * len(targets) + 30
    out = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=budget
    ).stdout
    result = json.loads(out)
    for target, measured in zip(targets, result["targets"], strict=True):
        # Every response had the status and body length this target must have.
        assert measured["requests"] > 0 and measured["bad"] == 0, (target.label, result)
        assert measured["statuses"] == {str(target.status): measured["requests"]}, result
    return [[float(r) for r in t["rounds"]] for t in result["targets"]]


def _verdict(label: str, ratio: float) -> bool:
    passed = ratio >= FLOOR
    print(f"serve feeds: {label} = {ratio:.2f} (floor {FLOOR}) {'PASS' if passed else 'FAIL'}")
    return passed


def main() -> bool:
    wrk = shutil.which("wrk")
    if wrk:
        client = f"wrk -t1 -c{CONNECTIONS}, URLs taking turns in 1 s runs"
    else:
        client = f"bench.load_client, {CONNECTIONS} connections, URLs interleaved in 0.5 s slices"
    with tempfile.TemporaryDirectory() as tmp:
        feed = _prepare(Path(tmp, "var"))
        log = Path(tmp, "uvicorn.log")
        with _server(Path(tmp, "var"), log) as (port, server):
            targets = _targets(port, feed)
            print(
                "serve feeds: uvicorn with httptools (writes coalesced) and uvloop, "
                f"1 worker; client {client}; {WARMUP_SECONDS} s warm-up, then "
                f"{ROUNDS} rounds of {DURATION_SECONDS} s per URL; rss.xml is {len(feed):,} bytes"
            )
            rates = _measure_wrk(wrk, port, targets) if wrk else _measure_python(port, targets)
            assert server.poll() is None, f"uvicorn died under load: {log.read_text()}"
    ceiling, full, revalidated = rates
    for n, (a, b, c) in enumerate(zip(ceiling, full, revalidated, strict=True)):
        print(
            f"serve feeds: round {n + 1}: 1 byte {a:,.0f}/s, rss.xml {b:,.0f}/s ({b / a:.2f}), "
            f"304 {c:,.0f}/s ({c / a:.2f})"
        )
    medians = [statistics.median(r) for r in rates]
    for target, median in zip(targets, medians, strict=True):
        print(f"serve feeds: {target.label}: median {median:,.0f} req/s")
    # Medians of the per-round ratios: a round's URLs ran close together in time.
    full_ratio = statistics.median(b / a for a, b in zip(ceiling, full, strict=True))
    revalidated_ratio = statistics.median(c / a for a, c in zip(ceiling, revalidated, strict=True))
    ok = _verdict("rss.xml 200 / 1 byte", full_ratio)
    return _verdict("rss.xml 304 / 1 byte", revalidated_ratio) and ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
