"""Partner webhook fan-out: 20 releases to 200 partners (4,000 signed deliveries).

The system runs as compose.yaml lays it out (web, beat, a feeds worker and a webhooks
worker of two processes each), on an embedded Redis and SQLite. The partners are one
local receiver answering every request after 50 ms: nginx with the echo module
(``echo_sleep 0.05``), or an aiohttp server in a subprocess where nginx is missing.
End-to-end rate: from the first publish until every attempt is logged. The ceiling,
measured in the same run: a plain aiohttp client posting the same payloads at the same
total concurrency (the webhooks worker's two processes with 200 requests in flight each),
best of three runs. The same burst then goes through the embedded default, one
`syndicator run` (its web, worker and beat, embedded Redis, SQLite), against the same
ceiling. A last line measures the delivery path alone (channel, runner and ledger in this
process, its heap settled as a worker's is) against plain aiohttp at one process's
concurrency.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import redis
from sqlalchemy import func, select

from bench.common import percentile
from syndicator.channels.base import ChannelContext
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.config import load_settings
from syndicator.delivery.aio import close_channels
from syndicator.delivery.runner import run_due
from syndicator.events.signing import generate_secret, sign_headers
from syndicator.partners.envelope import envelope_body
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.runtime.heap import settle_heap
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, DeliveryAttempt, Event, Partner, PartnerSecret
from syndicator.store.sealed import generate_key, keyring
from tests.factories import make_event
from tests.integration.webhook_support import publish
from tests.processes import spawn, stop, wait_for
from tests.services import free_port
from tests.system import RunningSystem

# Partners' signing keys are stored sealed, as in production (store/sealed.py).
ENCRYPTION_KEY = generate_key()
RING = keyring((ENCRYPTION_KEY,))
RELEASES = 20
PARTNERS = 200
DELIVERIES = RELEASES * PARTNERS
ANSWER_DELAY = 0.05
# The webhooks worker's processes (as compose.yaml runs it) x requests in flight in each.
WORKER_PROCESSES = 2
CONCURRENCY = WORKER_PROCESSES * WebhooksChannel.concurrency
# Issue 23: the compose layout at 0.9 of the ceiling with p99 publish→delivery under 1 s;
# the embedded default (`syndicator run`) at 0.6 of the same ceiling.
TARGET_RATIO = 0.9
TARGET_P99 = 1.0
RUN_TARGET_RATIO = 0.6
CEILING_RUNS = 3
# Events for the delivery-path measurement (tasks of 100 rows, one after another).
PATH_EVENTS = 10

_NGINX_CONF = """
load_module {module};
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  client_body_buffer_size 256k;
  keepalive_requests 100000;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ echo_read_request_body; echo_sleep {delay}; echo ok; }}
  }}
}}
"""
_ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")

_AIOHTTP_RECEIVER = """
import asyncio, sys
from aiohttp import web
async def answer(request):
    await request.read()
    await asyncio.sleep(float(sys.argv[2]))
    return web.Response(text="ok")
app = web.Application()
app.router.add_route("POST", "/{tail:.*}", answer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, backlog=4096)
"""


@contextmanager
def receiver(root: Path) -> Iterator[tuple[str, str]]:
    """A local partner answering after 50 ms: (base URL, what it is)."""
    port = free_port()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if Path(nginx).exists() and _ECHO_MODULE.exists():
        conf = root / "nginx.conf"
        (root / "body").mkdir(parents=True, exist_ok=True)
        conf.write_text(
            _NGINX_CONF.format(module=_ECHO_MODULE, root=root, port=port, delay=ANSWER_DELAY)
        )
        command, kind = [nginx, "-p", str(root), "-c", str(conf)], "nginx echo_sleep"
    else:
        command = [sys.executable, "-c", _AIOHTTP_RECEIVER, str(port), str(ANSWER_DELAY)]
        kind = "aiohttp"
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), 30, "the receiver")
        yield url, kind
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.post(f"{url}/ping", content=b"{}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def add_partners(db: Database, base: str) -> None:
    with db.session() as session:
        for n in range(PARTNERS):
            partner = Partner(
                name=f"협력사 {n}",
                url=f"{base}/p/{n}",
                event_types=None,
                headers={},
                departments=[],
                categories=[],
            )
            session.add(partner)
            session.flush()
            session.add(PartnerSecret(partner_id=partner.id, secret=RING.seal(generate_secret())))


def _done(db: Database) -> int:
    with db.read_session() as session:
        query = (
            select(func.count())
            .select_from(DeliveryAttempt)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.channel == "webhooks")
        )
        return int(session.scalar(query) or 0)


def _delivered_at(db: Database) -> list[tuple[int, datetime, str]]:
    """(release id, when the attempt ended, outcome) for every webhook attempt."""
    with db.read_session() as session:
        rows = session.execute(
            select(
                Event.release_id,
                DeliveryAttempt.started_at,
                DeliveryAttempt.duration_ms,
                DeliveryAttempt.outcome,
            )
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .join(Event, Event.id == Delivery.event_id)
            .where(Delivery.channel == "webhooks")
        ).all()
    return [
        (release, _utc(started) + timedelta(milliseconds=duration), outcome)
        for release, started, duration, outcome in rows
    ]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@contextmanager
def deployed(tmp: Path, env: dict[str, str]) -> Iterator[str]:
    """The processes of compose.yaml: web, beat, a feeds worker and a webhooks worker
    (two processes each), on an embedded Redis; yields the web URL."""
    redis_server = EmbeddedRedis(tmp / "redis", tmp / "redis" / "redis.sock")
    env = {**os.environ, **env, "SYNDICATOR_REDIS_URL": redis_server.start()}
    port = free_port()
    env["SYNDICATOR_BASE_URL"] = f"http://127.0.0.1:{port}"
    celery = ["celery", "-A", "workers.app"]
    commands = {
        "web": ["syndicator", "web", "--port", str(port)],
        "beat": [*celery, "beat", "--schedule", str(tmp / "beat-schedule")],
        **{
            f"worker-{name}": [
                *celery,
                "worker",
                "-Q",
                f"{name},events",
                "--hostname",
                f"{name}@%h",
                "--concurrency",
                str(WORKER_PROCESSES),
            ]
            for name in ("feeds", "webhooks")
        },
    }
    running = []
    try:
        for command in commands.values():
            running.append(spawn(command, env, tmp / "system.log"))
        client = redis.Redis.from_url(env["SYNDICATOR_REDIS_URL"])
        wait_for(
            lambda: all(client.exists(f"syndicator:consuming:{q}") for q in ("feeds", "webhooks")),
            90,
            "the workers",
        )
        client.close()
        yield env["SYNDICATOR_BASE_URL"]
    finally:
        stop(running)
        redis_server.stop()


def _publish(http: httpx.Client, url: str, secret: str, event: dict) -> None:
    body = json.dumps(event, ensure_ascii=False).encode()
    headers = {"content-type": "application/json", **sign_headers(secret, body)}
    answer = http.post(f"{url}/hooks/cms", content=body, headers=headers)
    assert answer.status_code == 202, answer.text


def _system_env(data: Path, secret: str) -> dict[str, str]:
    return {
        "SYNDICATOR_DATA_DIR": str(data),
        "SYNDICATOR_DATABASE_URL": f"sqlite:///{data / 'syndicator.db'}",
        "SYNDICATOR_CMS_SECRET": secret,
        "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "SYNDICATOR_ENCRYPTION_KEYS": ENCRYPTION_KEY,
    }


def _prepared(data: Path, base: str) -> Database:
    """A fresh SQLite database under ``data`` with the 200 partners."""
    data.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{data / 'syndicator.db'}"
    upgrade(database_url)
    db = Database(database_url)
    add_partners(db, base)
    return db


def _burst(
    db: Database, http: httpx.Client, url: str, secret: str
) -> tuple[float, list[float], int]:
    """Publish the 20 releases through the hook and wait for every attempt: (deliveries/s
    from first publish to the last attempt's end, latencies in s, failures)."""
    published: dict[int, datetime] = {}
    wait_for(lambda: http.get(f"{url}/healthz").status_code == 200, 60, "the web server")
    first = datetime.now(UTC)
    for n in range(RELEASES):
        release = 20_000 + n
        published[release] = datetime.now(UTC)
        _publish(http, url, secret, make_event(release, title=f"협력사 전송 측정 {n}번"))
    wait_for(lambda: _done(db) >= DELIVERIES, 300, "every delivery to be logged")
    attempts = _delivered_at(db)
    db.dispose()
    last = max(end for _, end, _ in attempts)
    rate = len(attempts) / (last - first).total_seconds()
    latencies = [(end - published[release]).total_seconds() for release, end, _ in attempts]
    failures = sum(1 for *_, outcome in attempts if outcome != "succeeded")
    return rate, latencies, failures


def measure_pipeline(tmp: Path, base: str) -> tuple[float, list[float], int]:
    """The burst through compose.yaml's layout (:func:`deployed`)."""
    secret = generate_secret()
    env = _system_env(tmp / "var", secret)
    db = _prepared(tmp / "var", base)
    with deployed(tmp, env) as url, httpx.Client(timeout=10) as http:
        return _burst(db, http, url, secret)


def measure_run(tmp: Path, base: str) -> tuple[float, list[float], int]:
    """The burst through one `syndicator run`, as an operator starts it (embedded Redis)."""
    secret = generate_secret()
    env = _system_env(tmp / "run", secret)
    db = _prepared(tmp / "run", base)
    system = RunningSystem(env, tmp / "run.log")
    system.env.pop("SYNDICATOR_REDIS_URL", None)  # the embedded Redis, as by default
    system.start()
    try:
        return _burst(db, system.http, system.url, secret)
    finally:
        system.stop()


async def _ceiling(base: str, body: bytes, concurrency: int, count: int) -> float:
    """A plain aiohttp client posting the same payloads at the same concurrency."""
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"content-type": "application/json", "user-agent": "bench"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(n: int) -> None:
            url = f"{base}/p/{n % PARTNERS}"
            async with slots, session.post(url, data=body, headers=headers) as answer:
                await answer.read()
                assert answer.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return count / (time.perf_counter() - started)


@contextmanager
def settled_heap() -> Iterator[None]:
    """This process's collector as a worker process runs it (runtime/heap.py), then back
    to what it was for the benchmarks that follow."""
    thresholds = gc.get_threshold()
    settle_heap()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def measure_delivery_path(tmp: Path, base: str) -> float:
    """The channel and runner alone, in this process (no Celery, no intake, no feeds):
    rows/s over 10 events' tasks of 100 rows, with the channel's own concurrency."""
    server = EmbeddedRedis(tmp / "redis-path", tmp / "redis-path" / "redis.sock")
    database_url = f"sqlite:///{tmp / 'path.db'}"
    upgrade(database_url)
    db = Database(database_url)
    add_partners(db, base)
    settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp / "path"),
            "SYNDICATOR_DATABASE_URL": database_url,
            "SYNDICATOR_REDIS_URL": server.start(),
            "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SYNDICATOR_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        }
    )
    channel = WebhooksChannel(ChannelContext(settings, db))
    try:
        planned = [publish(db, channel, 30_000 + n) for n in range(PATH_EVENTS + 1)]
        run_due(db, channel, planned[0][: channel.batch_size])  # opens the client
        rows = [row for ids in planned[1:] for row in ids]
        with settled_heap():
            started = time.perf_counter()
            for first in range(0, len(rows), channel.batch_size):
                run_due(db, channel, rows[first : first + channel.batch_size])
            return len(rows) / (time.perf_counter() - started)
    finally:
        close_channels([channel])
        db.dispose()
        server.stop()


def _load() -> str:
    """The load average now (1, 5 and 15 minutes): the machine may be shared."""
    return " / ".join(f"{n:.2f}" for n in os.getloadavg())


def main() -> bool:
    event = make_event(20_000, title="협력사 전송 측정 0번")
    body = envelope_body("evt_bench", event["type"], datetime.now(UTC), event, "https://x.kr")
    with tempfile.TemporaryDirectory() as name, receiver(Path(name) / "nginx") as (base, kind):
        # The best of a few runs: a ceiling the machine's noise lowered would flatter us.
        ceiling = max(
            asyncio.run(_ceiling(base, body, CONCURRENCY, DELIVERIES)) for _ in range(CEILING_RUNS)
        )
        load = _load()
        compose = measure_pipeline(Path(name) / "compose", base)
        run = measure_run(Path(name) / "run-mode", base)
        one_process = WebhooksChannel.concurrency
        path_ceiling = max(
            asyncio.run(_ceiling(base, body, one_process, PATH_EVENTS * PARTNERS))
            for _ in range(CEILING_RUNS)
        )
        path = measure_delivery_path(Path(name), base)
        load_after = _load()
    print(
        f"webhooks: {RELEASES} releases x {PARTNERS} partners = {DELIVERIES} deliveries "
        f"({len(body):,}-byte envelope) to {kind} answering after {ANSWER_DELAY * 1000:.0f} ms; "
        f"load average {load} before, {load_after} after"
    )
    print(
        f"webhooks: ceiling (plain aiohttp, {CONCURRENCY} concurrent, best of {CEILING_RUNS}) "
        f"{ceiling:,.0f}/s"
    )
    verdicts = [
        _verdict("compose layout", compose, ceiling, TARGET_RATIO, TARGET_P99),
        _verdict("syndicator run", run, ceiling, RUN_TARGET_RATIO, None),
    ]
    print(
        f"webhooks: delivery path alone (one process, {one_process} in flight) {path:,.0f} "
        f"rows/s; plain aiohttp at {one_process} {path_ceiling:,.0f}/s; "
        f"ratio {path / path_ceiling:.2f}"
    )
    return all(verdicts)


def _verdict(
    what: str,
    measured: tuple[float, list[float], int],
    ceiling: float,
    target: float,
    p99_target: float | None,
) -> bool:
    rate, latencies, failures = measured
    ratio = rate / ceiling
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    passed = ratio >= target and not failures and (p99_target is None or p99 < p99_target)
    p99_goal = f", p99 < {p99_target:g} s" if p99_target is not None else ""
    print(
        f"webhooks: {what}: {rate:,.0f} deliveries/s, ratio {ratio:.2f}, "
        f"publish→delivery p50 {p50:.2f} s, p99 {p99:.2f} s, failures {failures} "
        f"(target ratio ≥ {target}{p99_goal}, no failure) {'PASS' if passed else 'FAIL'}"
    )
    return passed


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
