"""What every chaos scenario shares: `syndicator run` with real subscribers (aiosmtpd) and
real partners (an aiohttp receiver), a readiness probe that runs through the fault, and the
checks and figures every scenario ends with.

Sizes and fault durations scale with ``SYNDICATOR_CHAOS_SCALE`` (1 is the issue's full
size, what `make chaos` runs; the default keeps the suite short enough for every CI run).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from syndicator.ledger.claims import CLAIM_LEASE
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, DeliveryAttempt, Event
from tests.factories import make_event
from tests.integration.webhook_receiver import Receiver, receiver
from tests.integration.webhook_support import add_partner
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import add_subscribers
from tests.processes import children_of
from tests.system import RunningSystem, system_env, wait_for

__all__ = [
    "ADMIN",
    "FINAL",
    "SCALE",
    "Chaos",
    "Figures",
    "ReadinessProbe",
    "chaos_system",
    "claims",
    "ride_out",
    "scaled",
]

SCALE = float(os.environ.get("SYNDICATOR_CHAOS_SCALE", "0.02"))
# A row ends in one of these, or pending with a due time (a retry scheduled).
FINAL = frozenset({"succeeded", "failed", "suppressed", "uncertain"})
ADMIN = "admin-token-for-tests"  # tests.system.system_env's
PARTNER_SECRET = "whsec_" + "Q" * 43 + "="
# Retries seconds apart, not minutes: a fault outlasts them, and the run still ends soon.
FAST_RETRIES = {
    "SYNDICATOR_MAIL_RETRY_SCHEDULE": "2,3,5,8,13,21,34,55",
    "SYNDICATOR_WEBHOOK_RETRY_SCHEDULE": "1,2,3,5,8,13,21,34,55",
    "SYNDICATOR_WEBHOOK_TIMEOUT": "3",
    "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
}
# How long recovery may take at most: a bound against hanging, never an assertion on speed.
SETTLE_SECONDS = 600.0


def scaled(full: float, least: float) -> int:
    """``full`` at the full scale, never below ``least``."""
    return round(max(least, full * SCALE))


def scaled_seconds(full: float, least: float) -> float:
    return max(least, full * SCALE)


class ReadinessProbe(threading.Thread):
    """Polls ``/readyz`` and ``/readyz/pipeline`` (with the admin token) twice a second, so
    a scenario can tell what readiness reported while its fault lasted."""

    def __init__(self, base_url: str) -> None:
        super().__init__(name="readiness-probe", daemon=True)
        self.base_url = base_url
        self.seen: list[tuple[float, str, int, str]] = []  # (at, path, status, body)
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        with httpx.Client(base_url=self.base_url, timeout=3, headers=headers) as http:
            while not self._stopping.is_set():
                for path in ("/readyz", "/readyz/pipeline"):
                    try:
                        answer = http.get(path)
                        seen = (time.monotonic(), path, answer.status_code, answer.text)
                    except httpx.HTTPError as exc:  # the web itself may be down
                        seen = (time.monotonic(), path, 0, type(exc).__name__)
                    with self._lock:
                        self.seen.append(seen)
                self._stopping.wait(0.5)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)

    def reported(self, *words: str, since: float = 0.0) -> list[str]:
        """Not-ready answers since ``since`` whose body names every one of ``words``."""
        with self._lock:
            return [
                f"{path} {status}: {body}"
                for at, path, status, body in self.seen
                if at >= since and status == 503 and all(w in body for w in words)
            ]

    def unanswered(self, since: float = 0.0) -> int:
        """Probes since ``since`` that got no answer at all (the web itself was down)."""
        with self._lock:
            return sum(1 for at, _, status, _ in self.seen if at >= since and status == 0)

    def healthy_since(self, since: float) -> bool:
        with self._lock:
            answers = {p: s for at, p, s, _ in self.seen if at >= since}
        return answers.get("/readyz") == 200 and answers.get("/readyz/pipeline") == 200


@dataclass
class Figures:
    scenario: str
    mails: int
    webhooks: int
    duplicates: int
    in_flight: int
    extra: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        more = "".join(f", {k} {v}" for k, v in self.extra.items())
        return (
            f"chaos {self.scenario}: {self.mails} mails, {self.webhooks} webhooks, "
            f"{self.duplicates} duplicates (≤ {self.in_flight} in flight){more}"
        )


FIGURES: list[str] = []  # printed at the end of the run (tests/chaos/conftest.py)


@dataclass
class Chaos:
    """One system under a fault: the run, its database, its mail server and partners."""

    system: RunningSystem
    db: Database
    smtp: MailServer
    partners: Receiver
    partner_names: list[str]
    subscribers: int
    probe: ReadinessProbe
    events: list[str] = field(default_factory=list)

    # --- load ---

    def publish(self, release_id: int, timeout: float | None = None, **release: Any) -> str:
        event = make_event(release_id, title=f"혼돈 시험 보도자료 {release_id}", **release)
        answer = self.system.publish(event, timeout=timeout)
        assert answer.status_code == 202, answer.text
        self.events.append(answer.json()["event_id"])
        return str(answer.json()["event_id"])

    def under_way(self, fraction: float = 0.2) -> None:
        """Until the newsletter is ``fraction`` sent: the moment to break something."""
        wanted = max(1, int(self.subscribers * fraction))
        until(lambda: len(self.smtp.received) >= wanted, 120, "the newsletter under way")

    def wait_healthy(self) -> None:
        until(lambda: self.probe.healthy_since(time.monotonic() - 1), 90, "readiness healthy again")

    # --- the ledger ---

    def statuses(self, channel: str | None = None) -> Counter[str]:
        with self.db.read_session() as session:
            query = select(Delivery.status, func.count()).group_by(Delivery.status)
            if channel is not None:
                query = query.where(Delivery.channel == channel)
            return Counter(dict(session.execute(query).all()))

    def in_flight(self) -> int:
        """Rows claimed and not finished: the work a fault can catch mid-way."""
        return self.statuses()["in_progress"]

    def restart(self) -> float:
        """`syndicator run` again, on the same data directory and port; when it began."""
        began = time.monotonic()
        old = self.system
        old.http.close()
        self.system = RunningSystem(old.env, old.log_path, *old.args, port=old.port)
        self.system.start()
        return began

    def succeeded(self, channel: str) -> int:
        return self.statuses(channel)["succeeded"]

    def unsettled(self) -> list[tuple[str, str, str]]:
        """Rows neither final nor scheduled with a due time."""
        with self.db.read_session() as session:
            rows = session.execute(
                select(Delivery.channel, Delivery.target, Delivery.status).where(
                    Delivery.status.not_in(FINAL),
                    ~((Delivery.status == "pending") & Delivery.next_attempt_at.is_not(None)),
                )
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    def attempts(self, outcome: str, *conditions: Any) -> int:
        with self.db.read_session() as session:
            query = select(func.count()).where(DeliveryAttempt.outcome == outcome, *conditions)
            return int(session.scalar(query) or 0)

    def stored_events(self) -> int:
        with self.db.read_session() as session:
            return int(session.scalar(select(func.count()).select_from(Event)) or 0)

    # --- the receivers ---

    def message_ids(self) -> Counter[str]:
        parser = BytesHeaderParser()
        with self.smtp.lock:
            received = list(self.smtp.received)
        return Counter(str(parser.parsebytes(r.raw)["Message-ID"]) for r in received)

    def webhook_ids(self) -> Counter[tuple[str, str]]:
        """(partner, webhook-id) of every request a partner accepted (answered 2xx), as a
        partner keeps them; a 500 or a reset connection delivered nothing."""
        with self.partners._lock:
            requests = list(self.partners.requests)
        return Counter(
            (r.partner, r.headers["webhook-id"]) for r in requests if 200 <= r.answered < 300
        )

    def expected(self) -> tuple[int, int]:
        """Mails and webhooks every event owes: one per subscriber, one per partner."""
        return len(self.events) * self.subscribers, len(self.events) * len(self.partner_names)

    def delivered(self) -> bool:
        mails, webhooks = self.expected()
        return self.succeeded("email") == mails and self.succeeded("webhooks") == webhooks

    def wait_delivered(self, what: str = "every delivery", seconds: float = SETTLE_SECONDS) -> None:
        wait_for(self.delivered, seconds, what)

    # --- the verdict ---

    def verdict(self, scenario: str, in_flight: int, **extra: str) -> Figures:
        """The issue's success criteria, asserted, and the scenario's figures, printed:
        nothing lost, duplicates within the work in flight, every row settled."""
        mails, webhooks = self.expected()
        assert self.unsettled() == [], "every ledger row ends final or scheduled"
        assert set(self.statuses()) == {"succeeded"}, self.statuses()
        message_ids, webhook_ids = self.message_ids(), self.webhook_ids()
        assert len(message_ids) == mails, "every subscriber got every newsletter"
        assert len(webhook_ids) == webhooks, "every partner got every event"
        duplicates = sum(message_ids.values()) - mails + sum(webhook_ids.values()) - webhooks
        figures = Figures(scenario, mails, webhooks, duplicates, in_flight, dict(extra))
        FIGURES.append(figures.line())
        print(figures.line())
        assert duplicates <= in_flight, figures.line()
        return figures


def chaos_env(
    tmp_path: Path,
    database_url: str,
    redis_url: str | None,
    cms_secret: str,
    smtp: MailServer,
    **extra: str,
) -> dict[str, str]:
    """A system's environment; without ``redis_url``, `syndicator run` embeds its own."""
    env = system_env(
        tmp_path,
        database_url,
        redis_url or "",
        cms_secret,
        SYNDICATOR_SMTP_URL=smtp.url,
        SYNDICATOR_TOKEN_KEYS="chaos-token-key",
        **{**FAST_RETRIES, **extra},
    )
    if redis_url is None:
        del env["SYNDICATOR_REDIS_URL"]
    return env


@contextmanager
def chaos_system(
    tmp_path: Path,
    database_url: str,
    redis_url: str | None,
    cms_secret: str,
    *,
    subscribers: int | None = None,
    partners: int | None = None,
    **extra: str,
) -> Iterator[Chaos]:
    """A seeded database (by default a newsletter of 10,000 and 100 partners, scaled), a
    mail server, partners, and `syndicator run` on them with its readiness probed
    throughout; everything stopped afterwards."""
    subscribers = scaled(10_000, 300) if subscribers is None else subscribers
    partners = scaled(100, 10) if partners is None else partners
    upgrade(database_url)
    db = Database(database_url)
    add_subscribers(db, subscribers)
    names = [f"p{n}" for n in range(partners)]
    with running_mail_server() as smtp, receiver() as site:
        for name in names:
            add_partner(db, site.url(name), secrets=[(PARTNER_SECRET, None)], name=name)
        env = chaos_env(tmp_path, database_url, redis_url, cms_secret, smtp, **extra)
        system = RunningSystem(env, tmp_path / "system.log")
        chaos = Chaos(system, db, smtp, site, names, subscribers, ReadinessProbe(system.url))
        try:
            system.start()
            chaos.probe.start()
            yield chaos
        finally:
            chaos.probe.stop()
            chaos.system.stop()
            db.dispose()


def ride_out(
    chaos: Chaos,
    scenario: str,
    *,
    stop: Callable[[], object],
    start: Callable[[], object],
    cause: str,
    seconds: float,
    while_down: Callable[[], object] = lambda: None,
    before_the_lease: bool = False,
) -> Figures:
    """An outage in the middle of the newsletter and the fan-out: ``stop`` a service,
    see readiness name ``cause``, stay down ``seconds`` (``while_down`` runs meanwhile),
    ``start`` it again, and judge the result. ``before_the_lease``: the outage catches
    claims that live workers cannot settle meanwhile (the database), and every delivery
    must be done well before those claims' lease would have run out."""
    chaos.under_way()
    in_flight = chaos.in_flight()
    stop()
    down = time.monotonic()
    while_down()
    until(lambda: chaos.probe.reported(cause, since=down), 60, f"readiness to name {cause!r}")
    time.sleep(max(0.0, seconds - (time.monotonic() - down)))  # the outage is a duration
    start()
    back = time.monotonic()
    chaos.wait_delivered(f"every delivery after the {scenario}")
    drained = time.monotonic() - back
    chaos.wait_healthy()
    lease = CLAIM_LEASE.total_seconds()
    figures = chaos.verdict(
        scenario,
        in_flight,
        outage=f"{back - down:.1f} s",
        drained=f"{drained:.1f} s after (claim lease {lease:.0f} s)",
    )
    if before_the_lease:
        # Rows a live worker claimed before the fault come back with the service, not
        # when their claim's lease runs out (delivery/settlements.py).
        assert drained < lease / 2, figures.line()
    return figures


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it, parents first."""
    tree, frontier = [pid], [pid]
    while frontier:
        found = [child for parent in frontier for child in children_of(parent)]
        tree += found
        frontier = found
    return tree


def kill_all(pids: list[int]) -> None:
    """SIGKILL at once, as a power cut: stopped first, so none sees another die."""
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_mains(run_pid: int) -> list[int]:
    """Every Celery worker `syndicator run` started: the main one and the webhooks one."""
    return [p for p in children_of(run_pid) if " worker " in command_line(p)]


def worker_main(run_pid: int) -> int:
    """The Celery worker `syndicator run` started for feeds, email and fan-outs (its pool
    processes are its children); partners' webhooks have a worker of their own."""
    (pid,) = [p for p in worker_mains(run_pid) if "syndicator@" in command_line(p)]
    return pid


def claims(db: Database) -> set[tuple[int, str]]:
    """(row, claim token) of every row claimed and not finished: what a fault catches in
    flight. A row claimed again later carries another token."""
    with db.read_session() as session:
        query = select(Delivery.id, Delivery.claim_token).where(Delivery.status == "in_progress")
        return {(row_id, str(token)) for row_id, token in session.execute(query)}


def still_claimed(db: Database, caught: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """The claims of ``caught`` nobody has finished or released yet."""
    return claims(db) & caught


def until(check: Callable[[], object], seconds: float, what: str) -> None:
    wait_for(lambda: bool(check()), seconds, what)
