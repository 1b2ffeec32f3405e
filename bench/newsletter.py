"""Newsletter fan-out: one release to 20,000 immediate subscribers vs the SMTP ceiling.

Everything runs as in production: SQLite, an embedded Redis, one Celery worker (two pool
processes, as `syndicator run` starts it) on the events and email queues, and beat.
Each pool process keeps ``SYNDICATOR_SMTP_CONNECTIONS`` connections open (default 4).
Mail goes to postfix's ``smtp-sink``, which takes many connections at once. End-to-end
time runs from the commit of the publish until the sink accepted the last message (the
newest attempt's end in the ledger).

The ceiling is measured in the same run against the same sink: one pre-built newsletter,
resent over one reused connection with ``smtplib`` (MAIL, RCPT, DATA per message), just
before and just after the end-to-end run (the mean counts: the machine may be shared).

Memory: the worker's peak RSS (the larger of its pool processes, ``VmHWM``) with 100,000
recipients minus with 1,000. Recipients are streamed; nothing grows with the list.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import func, insert, select

from bench.common import ORIGIN, synthetic_event, verdict
from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.config import load_settings
from syndicator.intake.accept import accept_event
from syndicator.mail.newsletter import personalise, release_newsletter
from syndicator.runtime.coordination import nudge_relay
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, DeliveryAttempt, Subscriber, utcnow
from syndicator.store.sealed import generate_key
from syndicator.subscriptions.tokens import preferences_url, unsubscribe_url
from tests.processes import children_of, spawn
from tests.processes import stop as stop_processes

SINK = "/usr/sbin/smtp-sink"
RECIPIENTS = 20_000
SMALL, LARGE = 1_000, 100_000
CEILING_MESSAGES = 5_000
TARGET_RATIO = 2.0
CEILING_GROWTH_MB = 20.0
TOKEN_KEY = "bench-token-key"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[int]:
    port = _free_port()
    command = [SINK, "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"]
    sink = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        sink.terminate()
        sink.wait()


def sample_message(tmp: Path) -> bytes:
    """The newsletter the system sends, as one recipient gets it."""
    settings = load_settings({"SYNDICATOR_DATA_DIR": str(tmp), "SYNDICATOR_TOKEN_KEYS": TOKEN_KEY})
    payload = synthetic_event(1, ORIGIN).model_dump(mode="json")
    template = release_newsletter(settings, "release.published", payload)
    links = {
        "unsubscribe_url": unsubscribe_url(settings, 1, 0),
        "preferences_url": preferences_url(settings, 1, 0),
    }
    message, _ = personalise(settings, template, "r1@example.org", links, "bench.1")
    return message


def ceiling(port: int, message: bytes) -> float:
    """Messages per second: one message, one connection, sent again and again."""
    conn = smtplib.SMTP("127.0.0.1", port)
    try:
        started = time.perf_counter()
        for n in range(CEILING_MESSAGES):
            conn.sendmail("noreply@daegu.go.kr", [f"r{n}@example.org"], message)
        return CEILING_MESSAGES / (time.perf_counter() - started)
    finally:
        conn.quit()


def connections() -> int:
    """What the worker gets from the environment, read as the worker reads it."""
    return load_settings().smtp_connections


def add_subscribers(db: Database, count: int) -> None:
    now = utcnow()
    with db.session() as session:
        for start in range(0, count, 5_000):
            session.execute(
                insert(Subscriber),
                [
                    {
                        "email": f"r{n}@example.org",
                        "status": "active",
                        "mode": "immediate",
                        "every_release": True,
                        "consent": "import_consented",
                        "created_at": now,
                        "updated_at": now,
                        "confirmed_at": now,
                    }
                    for n in range(start, min(count, start + 5_000))
                ],
            )


def _peak_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(match[1]) if match else 0


class System:
    """A worker and beat on a fresh database and Redis, as subprocesses."""

    def __init__(self, tmp: Path, port: int, recipients: int) -> None:
        self.tmp = tmp
        self.url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(self.url)
        self.db = Database(self.url)
        add_subscribers(self.db, recipients)
        self.redis = EmbeddedRedis(tmp / "redis", tmp / "redis" / "redis.sock")
        redis_url = self.redis.start()
        self.client = redis.Redis.from_url(redis_url)
        self.env = {
            **os.environ,
            "SYNDICATOR_DATA_DIR": str(tmp / "var"),
            "SYNDICATOR_DATABASE_URL": self.url,
            "SYNDICATOR_REDIS_URL": redis_url,
            "SYNDICATOR_CMS_SECRET": "whsec_" + "A" * 43,
            "SYNDICATOR_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "SYNDICATOR_TOKEN_KEYS": TOKEN_KEY,
            "SYNDICATOR_ENCRYPTION_KEYS": generate_key(),  # workers refuse to start without
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        process = spawn(("celery", "-A", "workers.app", *args), self.env, self.tmp / f"{name}.log")
        self.processes.append(process)
        return process

    def stop(self) -> None:
        stop_processes(self.processes)
        self.db.dispose()
        self.client.close()
        self.redis.stop()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(port: int, recipients: int) -> tuple[float, float, float]:
    """Seconds from the publish to the last accepted message, the worker's peak MB, and
    its pool processes' CPU seconds (user + system: what a shared machine does not skew
    as much as the elapsed time)."""
    with tempfile.TemporaryDirectory() as tmp:
        system = System(Path(tmp), port, recipients)
        try:
            worker = system.start(
                "worker",
                "worker",
                "-Q",
                f"{EVENTS_QUEUE},email",
                "--concurrency",
                os.environ.get("BENCH_NEWSLETTER_CONCURRENCY", "2"),
                "--loglevel",
                "WARNING",
            )
            system.start("beat", "beat", "--schedule", str(Path(tmp) / "beat-schedule"))
            deadline = time.monotonic() + 60
            while not system.client.exists("syndicator:consuming:email"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not start")
                time.sleep(0.1)
            published = utcnow()
            accept_event(system.db, synthetic_event(1, ORIGIN), webhook_id="msg_bench")
            nudge_relay(system.client)
            deadline = time.monotonic() + 600
            while _succeeded(system.db) < recipients:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {_succeeded(system.db)} of {recipients} sent")
                time.sleep(0.5)
            children = children_of(worker.pid)
            peak = max(_peak_kb(child) for child in children) / 1024
            cpu = sum(_cpu_seconds(child) for child in children)
            return (_last_accepted(system.db) - published).total_seconds(), peak, cpu
        finally:
            system.stop()


def _succeeded(db: Database) -> int:
    with db.read_session() as session:
        query = select(func.count()).where(
            Delivery.channel == "email", Delivery.status == "succeeded"
        )
        return int(session.scalar(query) or 0)


def _last_accepted(db: Database) -> datetime:
    with db.read_session() as session:
        rows = session.execute(
            select(DeliveryAttempt.started_at, DeliveryAttempt.duration_ms)
            .order_by(DeliveryAttempt.started_at.desc())
            .limit(50)
        )
        return max(start + timedelta(milliseconds=ms) for start, ms in rows)


def main() -> bool:
    if not Path(SINK).exists():
        print(f"newsletter: {SINK} missing (Debian package postfix)")
        return False
    with tempfile.TemporaryDirectory() as tmp, smtp_sink() as port:
        message = sample_message(Path(tmp))
        # The machine is shared: the ceiling is measured just before and just after the
        # end-to-end run, and their mean is what the run is compared with.
        before = ceiling(port, message)
        seconds, _, cpu = run(port, RECIPIENTS)
        after = ceiling(port, message)
        top = (before + after) / 2
        rate = RECIPIENTS / seconds
        ratio = rate / top
        print(
            f"newsletter: ceiling {top:,.0f} msgs/s ({before:,.0f} before, {after:,.0f} after; "
            f"one {len(message):,}-byte message resent over one connection)"
        )
        print(f"newsletter: end to end {RECIPIENTS:,} in {seconds:.1f} s = {rate:,.0f} msgs/s")
        print(
            f"newsletter: {connections()} SMTP connections per worker process; its pool "
            f"processes used {cpu:.1f} s of CPU, {cpu / RECIPIENTS * 1e6:.0f} µs per message"
        )
        print(
            f"newsletter: end-to-end / ceiling = {ratio:.2f} (target >= {TARGET_RATIO}) "
            f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}"
        )
        memory = os.environ.get("BENCH_NEWSLETTER_MEMORY", "1") != "0"
        if not memory:
            return ratio >= TARGET_RATIO
        small_seconds, small_peak, _ = run(port, SMALL)
        large_seconds, large_peak, _ = run(port, LARGE)
        growth = large_peak - small_peak
        print(
            f"newsletter: worker peak RSS {small_peak:.1f} MB at {SMALL:,} "
            f"({small_seconds:.1f} s), {large_peak:.1f} MB at {LARGE:,} ({large_seconds:.1f} s)"
        )
        print(
            f"newsletter: peak RSS growth {growth:+.1f} MB (ceiling {CEILING_GROWTH_MB:.0f} MB) "
            f"{verdict(growth, CEILING_GROWTH_MB)}"
        )
        return ratio >= TARGET_RATIO and growth <= CEILING_GROWTH_MB


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
