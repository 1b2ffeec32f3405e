"""Email channel: newsletters to subscribers (``subscriber:<id>``), one ledger row each.

``plan`` streams the subscribers an event concerns: for a release, the active immediate
subscribers following its department or a category; for a digest run (an event of its
own, see :mod:`syndicator.mail.digests`), the daily or weekly subscribers with something
new; for a welcome (:mod:`syndicator.subscriptions.welcome`), its one subscriber, whose
row confirming planned already. ``deliver`` looks the address up when its batch starts
(never earlier), fills in the newsletter compiled once per release, and hands it to one
of the SMTP connections this
worker process keeps open at once (``SYNDICATOR_SMTP_CONNECTIONS``; see
:mod:`syndicator.mail.pool`), from an envelope sender naming the row when
``SYNDICATOR_BOUNCE_ADDRESS`` is set (:mod:`syndicator.bounces.verp`). Every SMTP reply
is classified once, here:

- 2xx: succeeded, with the reply and the Message-ID in the attempt log;
- 421, or no connection: the server's limit, not the message's fault. That connection
  rests and the row is deferred (pending again at a due time, no attempt spent) while
  the other connections go on; once all of them rest, every row is deferred until the
  first is back;
- other 4xx (about one mailbox): retried later with growing, jittered delays
  (``retry_schedule``);
- 5.1.x: ``suppressed`` (the mailbox is gone), and the subscriber is suppressed with it;
- 5.7.x and other 5xx: failed, for an operator to look at;
- a connection lost after the message was handed over: ``uncertain``, never resent by
  itself (it may have arrived).

No mail for backfill (``source == "import"``), for retractions, or for corrections unless
the event says ``"significant": true``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import ClassVar

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator.bounces.verp import envelope_sender
from syndicator.channels import smtp_outcomes
from syndicator.channels.base import (
    AsyncChannel,
    BatchContext,
    ChannelContext,
    DeliveryOutcome,
    EventRecord,
    RecordedAttempt,
)
from syndicator.config import Settings
from syndicator.ledger.claims import Claimed
from syndicator.logs import kv
from syndicator.mail import digests
from syndicator.mail.audience import (
    Recipient,
    immediate_subscribers,
    parse_target,
    recipients_of_claim,
    subscriber_target,
    subscribers_in_mode,
)
from syndicator.mail.compose import MessageTemplate
from syndicator.mail.deferral import DeferralSignal
from syndicator.mail.newsletter import (
    CompiledCache,
    compile_newsletter,
    personalise,
    release_newsletter,
)
from syndicator.mail.pool import ServerBusy, TransportPool
from syndicator.mail.ratelimit import SharedRate
from syndicator.mail.rates import count_sends
from syndicator.mail.transport import SendError, open_transport
from syndicator.mail.views import release_view
from syndicator.mail.web_copies import digest_copy, release_copy, store_copy
from syndicator.mail.welcome import welcome_message, welcome_view
from syndicator.store.models import Event, Subscriber, utcnow
from syndicator.subscriptions.preferences import load_preferences
from syndicator.subscriptions.tokens import preferences_url, unsubscribe_url
from syndicator.subscriptions.welcome import WELCOME_TYPE, is_welcome

__all__ = ["EmailChannel", "wants_mail"]

log = logging.getLogger("syndicator.channels.email")

# Claims whose recipients are kept: those a batch and its top-ups have in hand.
_CLAIMS_KEPT = 8
# Why a planned subscriber was not mailed after all (not an SMTP failure).
_SKIPPED = {
    "pending": "E_NOT_CONFIRMED",
    "unsubscribed": "E_UNSUBSCRIBED",
    "suppressed": "E_ADDRESS_SUPPRESSED",
    "erased": "E_ERASED",
}


def wants_mail(event: EventRecord) -> bool:
    """Whether a release event is worth an email at all."""
    if event.source == "import":  # backfill: old news
        return False
    if event.type == "release.published":
        return True
    return event.type == "release.updated" and event.payload.get("significant") is True


class EmailChannel(AsyncChannel):
    name: ClassVar[str] = "email"
    queue: ClassVar[str] = "email"
    audience: ClassVar[bool] = True  # every subscriber: planned after the partners
    batch_size: ClassVar[int] = 500
    # Fewer, larger recording transactions: the ledger's per-transaction cost was a third
    # of a newsletter's CPU. A killed worker resends at most this many (Message-IDs are
    # stable per delivery, so a receiver can tell).
    flush_rows: ClassVar[int] = 500
    summarise_successes: ClassVar[bool] = True
    # 421/45x: the receiver asks us to slow down; back off over about eight hours.
    retry_schedule: ClassVar[tuple[float, ...]] = Settings.mail_retry_schedule
    # How long a row may wait for the shared rate limit before it is deferred instead.
    rate_wait_seconds: ClassVar[float] = 5.0

    def __init__(self, ctx: ChannelContext) -> None:
        super().__init__(ctx)
        # Rows in flight: eight per connection, so that each connection's thread finds its
        # next messages composed and queued when it is done with one, and goes on without
        # being woken for each. All of them go to one server.
        self.connections = ctx.settings.smtp_connections
        self.concurrency = self.group_limit = 8 * self.connections
        self._pool: TransportPool | None = None  # per process, connected on first send
        self._rate: SharedRate | None = None
        self._rate_lock = threading.Lock()
        self._compiled = CompiledCache()
        self._events: dict[str, EventRecord | None] = {}
        # claim token -> its recipients; a topped-up batch holds rows of a few claims.
        self._claims: OrderedDict[str, dict[int, Recipient]] = OrderedDict()
        # delivery id -> (subscriber id, new marker), for digests being recorded.
        self._markers: dict[int, tuple[int, int]] = {}
        self._deferral = DeferralSignal(ctx.redis)

    # --- planning ---

    def plan(self, event: EventRecord) -> Iterator[str]:
        if event.type == WELCOME_TYPE:  # planned on confirming; here for a replay
            yield subscriber_target(int(event.payload["subscriber"]))
            return
        if event.type.startswith("digest."):
            yield from self._plan_digest(event)
            return
        if not wants_mail(event):
            return
        release = event.payload["release"]
        department = release["department"]
        categories = list(release.get("categories") or ())
        for subscriber_id in immediate_subscribers(self.ctx.db, department, categories):
            yield subscriber_target(subscriber_id)

    def _plan_digest(self, event: EventRecord) -> Iterator[str]:
        mode, cutoff = event.payload["mode"], int(event.payload["cutoff"])
        for page in subscribers_in_mode(self.ctx.db, mode):
            with self.ctx.db.session() as session:
                readers = digests.readers(session, page)
                lower = min((r.marker or 0 for r in readers), default=cutoff)
                items = digests.items_between(session, lower, cutoff)
                due = [r for r in readers if digests.unseen(r, items)]
                # Nothing new up to the cutoff: nothing can be missed by moving past it,
                # and the next run reads fewer items.
                idle = {r.id for r in readers} - {r.id for r in due}
                digests.move_markers(session, ((sid, cutoff) for sid in idle))
            for reader in due:
                yield subscriber_target(reader.id)

    # --- delivering ---

    def retry_delays(self, target: str) -> Sequence[float]:
        return self.ctx.settings.mail_retry_schedule

    def group(self, target: str) -> str:
        return "smtp"

    async def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        started = time.perf_counter()
        prepared = self._prepare(job)
        if isinstance(prepared, DeliveryOutcome):
            return prepared
        to, built, version = prepared
        if self.ctx.settings.mail_rate_per_s:
            try:
                permitted, reason = await asyncio.to_thread(self._throttle, batch), "rate_limit"
            except redis.RedisError:
                # The shared rate is unknown (Redis away, a failover): not now, no attempt
                # spent, rather than a send past the rate.
                permitted, reason = False, "rate_unavailable"
            if not permitted:
                self._markers.pop(job.delivery_id, None)
                return DeliveryOutcome.deferred(
                    job.delivery_id, utcnow() + timedelta(seconds=1), reason
                )
        settings = self.ctx.settings
        subscriber_id = parse_target(job.target) or 0
        links = {
            "unsubscribe_url": unsubscribe_url(settings, subscriber_id, version),
            "preferences_url": preferences_url(settings, subscriber_id, version),
        }
        local_id = f"{job.event_id}.{subscriber_id}"
        data, message_id = personalise(settings, built, to, links, local_id)
        pool = self._transports()
        # A bounce to this envelope sender names the delivery (bounces/verp.py).
        sender = envelope_sender(settings, job.delivery_id, subscriber_id) or settings.sender
        try:
            reply = await pool.send(sender, to, data)
        except ServerBusy as busy:
            # Nothing was accepted: the row waits for the server, spending no attempt.
            self._deferral.refused(str(busy.reply))
            self._markers.pop(job.delivery_id, None)
            reason = "smtp_421" if busy.reply.code == 421 else "smtp_unreachable"
            due = utcnow() + timedelta(seconds=max(busy.retry_in, 1.0))
            return DeliveryOutcome.deferred(job.delivery_id, due, reason)
        except SendError as error:
            return self._refused(job, error, message_id, pool.endpoint, started)
        self._deferral.accepted()
        elapsed = (time.perf_counter() - started) * 1000
        return smtp_outcomes.accepted(job.delivery_id, reply, pool.endpoint, message_id, elapsed)

    def _prepare(self, job: Claimed) -> DeliveryOutcome | tuple[str, MessageTemplate, int]:
        """The address, the compiled newsletter and the links version, or why this row is
        not mailed."""
        recipient = self._recipient(job)
        skipped = self._skip_reason(job, recipient)
        if skipped:
            return DeliveryOutcome.permanent(
                job.delivery_id,
                skipped,
                "not mailed: the subscriber is no longer an active recipient",
                final_status="suppressed",
            )
        assert recipient is not None and recipient.email is not None
        event = self._event(job.event_id)
        if event is None:
            return DeliveryOutcome.permanent(job.delivery_id, "E_NO_EVENT")
        built = self._newsletter(job, event, recipient)
        if built is None:
            return DeliveryOutcome.permanent(
                job.delivery_id,
                "E_NOTHING_NEW",
                "a later digest already covered these items",
                final_status="suppressed",
            )
        return recipient.email, built, recipient.links_version

    def _refused(
        self, job: Claimed, error: SendError, message_id: str, endpoint: str, started: float
    ) -> DeliveryOutcome:
        self._markers.pop(job.delivery_id, None)
        elapsed = (time.perf_counter() - started) * 1000
        return smtp_outcomes.refused(job.delivery_id, error, endpoint, message_id, elapsed)

    def _recipient(self, job: Claimed) -> Recipient | None:
        """The claim's addresses, read once when its first row starts."""
        found = self._claims.get(job.token)
        if found is None:
            found = recipients_of_claim(self.ctx.db, job.token)
            self._claims[job.token] = found
            if len(self._claims) > _CLAIMS_KEPT:
                self._claims.popitem(last=False)
        subscriber_id = parse_target(job.target)
        return found.get(subscriber_id) if subscriber_id is not None else None

    def _skip_reason(self, job: Claimed, recipient: Recipient | None) -> str | None:
        if recipient is None or recipient.email is None:
            return "E_ERASED"
        if recipient.status != "active":
            return _SKIPPED.get(recipient.status, "E_INACTIVE")
        if is_welcome(job.event_id):  # whatever they chose, the welcome is theirs
            return None
        # A digest run's id names its mode (digest-daily-20261128); a release's is immediate.
        mode = job.event_id.split("-")[1] if job.event_id.startswith("digest-") else "immediate"
        return None if recipient.mode == mode else "E_MODE_CHANGED"

    def _event(self, event_id: str) -> EventRecord | None:
        if event_id not in self._events:
            if len(self._events) > 64:
                self._events.clear()
            with self.ctx.db.read_session() as session:
                row = session.scalar(select(Event).where(Event.id == event_id))
                self._events[event_id] = (
                    EventRecord(row.id, row.type, row.release_id, row.source, row.payload)
                    if row is not None
                    else None
                )
        return self._events[event_id]

    def _newsletter(
        self, job: Claimed, event: EventRecord, recipient: Recipient
    ) -> MessageTemplate | None:
        settings = self.ctx.settings
        if event.type == WELCOME_TYPE:
            return self._welcome(recipient.id)
        language = recipient.language
        if not event.type.startswith("digest."):
            # One compiled copy per release and language: the chrome differs, not the text.
            # The web copy is one for every language: the site renders its own chrome.

            def build_release() -> MessageTemplate:
                copy = release_copy(event.id, event.type, event.payload["release"])
                web_url = store_copy(settings, self.ctx.db, copy)
                return release_newsletter(
                    settings, event.type, event.payload, language, web_url=web_url
                )

            return self._compiled.get((event.id, language), build_release)
        mode, cutoff = event.payload["mode"], int(event.payload["cutoff"])
        with self.ctx.db.read_session() as session:
            (reader,) = digests.readers(session, [recipient.id])
            items = digests.unseen(
                reader, digests.items_between(session, reader.marker or 0, cutoff)
            )
        if not items:
            return None
        self._markers[job.delivery_id] = (recipient.id, cutoff)
        day = date.fromisoformat(event.payload["period"])
        context = {
            "period_label": digests.period_label(mode, day, language),
            "releases": [release_view(item.release, language) for item in items],
        }
        sequences = tuple(item.sequence for item in items)

        def build_digest() -> MessageTemplate:
            releases = [item.release for item in items]
            copy = digest_copy(event.id, mode, event.payload["period"], sequences, releases)
            web_url = store_copy(settings, self.ctx.db, copy)
            return compile_newsletter(settings, "digest", {**context, "web_url": web_url}, language)

        return self._compiled.get((event.id, language, sequences), build_digest)

    def _welcome(self, subscriber_id: int) -> MessageTemplate | None:
        """Written for one subscriber when it is sent, with what they follow then."""
        with self.ctx.db.read_session() as session:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is None:
                return None
            prefs = load_preferences(session, subscriber)
            language = subscriber.language
        view = welcome_view(
            prefs.mode, prefs.departments, prefs.categories, self.ctx.settings.digest_hour
        )
        return welcome_message(self.ctx.settings, view, language)

    def _throttle(self, batch: BatchContext) -> bool:
        """Wait for a permit of the shared rate (in a thread: it may sleep)."""
        per_second = self.ctx.settings.mail_rate_per_s
        if not per_second or self.ctx.redis is None:
            return True
        with self._rate_lock:
            if self._rate is None:
                self._rate = SharedRate(self.ctx.redis, per_second)
            return self._rate.acquire(min(self.rate_wait_seconds, batch.deadline.remaining()))

    def _transports(self) -> TransportPool:
        if self._pool is None:
            settings = self.ctx.settings
            self._pool = TransportPool(self.connections, lambda: open_transport(settings))
        return self._pool

    # --- recording ---

    def recorded(self, session: Session, attempts: Sequence[RecordedAttempt]) -> None:
        """In the recording transaction: suppress gone mailboxes, move digest markers,
        count each newsletter's messages sent (its rates' denominator)."""
        moves: list[tuple[int, int]] = []
        for attempt in attempts:
            record = attempt.record
            move = self._markers.pop(record.delivery_id, None)
            if record.outcome == "succeeded" and move is not None:
                moves.append(move)
            if record.error_class == "E_SMTP_MAILBOX_GONE":
                subscriber_id = parse_target(attempt.job.target)
                if subscriber_id is not None:
                    _suppress(session, subscriber_id, record.response or "5.1.x")
        digests.move_markers(session, moves)
        # A welcome is one message to one resident, not a newsletter: counted as one, a
        # single bounce would be the "latest newsletter" bouncing at 100 %.
        count_sends(
            session,
            (
                (a.job.event_id, a.record.outcome, a.record.error_class)
                for a in attempts
                if not is_welcome(a.job.event_id)
            ),
        )

    def close(self) -> None:
        """Close this process's SMTP connections (also usable outside an event loop)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    async def aclose(self) -> None:
        self.close()


def _suppress(session: Session, subscriber_id: int, reason: str) -> None:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None and subscriber.status == "active":
        subscriber.status = "suppressed"
        subscriber.suppressed_reason = reason[:500]
        subscriber.suppressed_kind = "smtp"
        subscriber.suppressed_at = subscriber.updated_at = utcnow()
        log.info(kv(msg="subscriber suppressed", target=subscriber_target(subscriber_id)))
