"""What a publish looks like from the outside: the rig `publish_latency` and `timeline` share.

`syndicator run` as an operator starts it (embedded Redis, SQLite, one worker, beat), a
second `syndicator web` beside it on the same database and Redis, a partner (a real
aiohttp receiver) and one immediate subscriber whose mail goes to a real aiosmtpd server.
A reader polls `/feeds/rss.xml` on each web node every 10 ms over HTTP, with
`If-None-Match` as feed readers do, and notes when the release first shows.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import insert

from syndicator.events.signing import generate_secret
from syndicator.store.db import Database
from syndicator.store.models import Subscriber, utcnow
from tests.factories import make_event
from tests.integration.webhook_receiver import Receiver, receiver
from tests.processes import web_node
from tests.services import free_port
from tests.system import RunningSystem, wait_for

__all__ = ["PATHS", "Observation", "Rig", "running_rig"]

ADMIN_TOKEN = "latency-admin-token"
POLL_SECONDS = 0.010
SUBSCRIBER = "reader@example.org"
# What each path means, in the order they are printed.
PATHS = {
    "web": "the release in /feeds/rss.xml on the run's web node",
    "second_web": "the same on a second `syndicator web`",
    "partner": "the first partner's webhook arrives",
    "inbox": "the first subscriber's newsletter reaches the SMTP server",
}


@dataclass
class Observation:
    """Seconds from the hook request, per path; ``hook`` is the request's own round trip."""

    hook: float
    paths: dict[str, float]
    started_wall: float  # time.time() when the hook request went out, for log lines


class _Inbox:
    """An aiosmtpd handler that notes when each message arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.arrivals.append((time.monotonic(), bytes(envelope.original_content)))
        return "250 2.0.0 Ok"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


class _Reader(threading.Thread):
    """Polls one web node's RSS every 10 ms, conditionally, and notes when a text first shows."""

    def __init__(self, url: str) -> None:
        super().__init__(name=f"reader {url}", daemon=True)
        self.url = url
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.wanted: str | None = None
        self.seen_at: float | None = None

    def want(self, text: str) -> None:
        with self.lock:
            self.wanted, self.seen_at = text, None

    def seen(self) -> float | None:
        with self.lock:
            return self.seen_at

    def run(self) -> None:
        etag = ""
        with httpx.Client(timeout=5) as client:
            while not self.stopping.wait(POLL_SECONDS):
                try:
                    answer = client.get(self.url, headers={"if-none-match": etag} if etag else {})
                except httpx.HTTPError:
                    continue
                now = time.monotonic()
                if answer.status_code != 200:
                    continue
                etag = answer.headers.get("etag", "")
                with self.lock:
                    if self.wanted and self.seen_at is None and self.wanted in answer.text:
                        self.seen_at = now


@dataclass
class Rig:
    system: RunningSystem
    second_url: str
    partner: Receiver
    inbox: _Inbox
    readers: dict[str, _Reader] = field(default_factory=dict)
    published: int = 0

    def publish(self, number: int) -> Observation:
        """Publish one release and wait until every path has it."""
        title = f"지연 측정 {number}번"
        for reader in self.readers.values():
            reader.want(f"{title}<")
        hooks_before, mails_before = len(self.partner.requests), self.inbox.count()
        event = make_event(20_000 + number, title=title)
        started_wall, started = time.time(), time.monotonic()
        answer = self.system.publish(event)
        hook = time.monotonic() - started
        assert answer.status_code == 202, answer.text
        seen: dict[str, float] = {}

        def arrived() -> bool:
            for name, reader in self.readers.items():
                if name not in seen and (at := reader.seen()) is not None:
                    seen[name] = at - started
            if "partner" not in seen and len(self.partner.requests) > hooks_before:
                first = self.partner.requests[hooks_before]
                assert str(20_000 + number).encode() in first.body
                seen["partner"] = first.at - started
            if "inbox" not in seen and self.inbox.count() > mails_before:
                seen["inbox"] = self.inbox.arrivals[mails_before][0] - started
            return len(seen) == len(PATHS)

        wait_for(arrived, 60, f"publish {number} on every path")
        self.published += 1
        return Observation(hook, {name: seen[name] for name in PATHS}, started_wall)


def _subscribe(database_url: str) -> None:
    """One confirmed, immediate subscriber of every release, as an import with consent."""
    now = utcnow()
    with Database(database_url) as db, db.session() as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": SUBSCRIBER,
                    "status": "active",
                    "mode": "immediate",
                    "every_release": True,
                    "consent": "import_consented",
                    "created_at": now,
                    "updated_at": now,
                    "confirmed_at": now,
                }
            ],
        )


@contextmanager
def running_rig(tmp: Path, **extra_env: str) -> Iterator[Rig]:
    """The whole rig, started and ready; ``extra_env`` is given to every process."""
    with ExitStack() as stack:
        partner = stack.enter_context(receiver())
        inbox = _Inbox()
        smtp_port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        stack.callback(controller.stop)
        data = tmp / "var"
        env = {
            "SYNDICATOR_DATA_DIR": str(data),
            "SYNDICATOR_DATABASE_URL": f"sqlite:///{data / 'syndicator.db'}",
            "SYNDICATOR_CMS_SECRET": generate_secret(),
            "SYNDICATOR_ADMIN_TOKEN": ADMIN_TOKEN,
            "SYNDICATOR_TOKEN_KEYS": "latency-token-key",
            "SYNDICATOR_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            **extra_env,
        }
        system = RunningSystem(env, tmp / "system.log")
        # `syndicator run` starts its embedded Redis only when no Redis is configured.
        system.env.pop("SYNDICATOR_REDIS_URL", None)
        system.start()
        stack.callback(system.stop)
        answer = system.http.post(
            f"{system.url}/api/partners",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
            json={"name": "속보 협력사", "url": partner.url("first")},
        )
        assert answer.status_code == 201, answer.text
        _subscribe(env["SYNDICATOR_DATABASE_URL"])
        # The second node reaches the run's own Redis, as a node on another host would.
        second_env = {**system.env, "SYNDICATOR_REDIS_URL": _run_redis_url(data)}
        second_url = stack.enter_context(web_node(second_env, tmp / "web2.log")).url
        rig = Rig(system, second_url, partner, inbox)
        for name, url in (("web", system.url), ("second_web", second_url)):
            reader = rig.readers[name] = _Reader(f"{url}/feeds/rss.xml")
            reader.start()
            stack.callback(reader.join, 5)
            stack.callback(reader.stopping.set)
        yield rig


def _run_redis_url(data: Path) -> str:
    """The embedded Redis `syndicator run` started under ``data``."""
    from syndicator.config import load_settings

    settings = load_settings({**os.environ, "SYNDICATOR_DATA_DIR": str(data)})
    return f"unix://{settings.embedded_redis_socket}"
