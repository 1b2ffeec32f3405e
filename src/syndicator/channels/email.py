"""Email channel: newsletters to subscribers (``subscriber:<id>``), one ledger row each.

``plan`` streams the subscribers an event concerns: for a release, the active immediate
subscribers following its department or a category; for a digest run (an event of its
own, see :mod:`syndicator.mail.digests`), the daily or weekly subscribers with something
new. ``deliver`` looks the address up when its batch starts (never earlier), fills in the
newsletter compiled once per release, and hands it to one of the SMTP connections this
worker process keeps open at once (``SYNDICATOR_SMTP_CONNECTIONS``; see
:mod:`syndicator.mail.pool`). Every SMTP reply is classified once, here:

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

from sqlalchemy import select
from sqlalchemy.orm import Session

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
from syndicator.mail.transport import Failure, SendError, SmtpReply, open_transport
from syndicator.mail.views import release_view
from syndicator.store.models import Event, Subscriber, utcnow
from syndicator.subscriptions.tokens import preferences_url, unsubscribe_url

__all__ = ["EmailChannel", "wants_mail"]

log = logging.getLogger("syndicator.channels.email")

_FAILED_CLASS = {
    Failure.TEMPORARY: "E_SMTP_TEMPORARY",
    Failure.MAILBOX_GONE: "E_SMTP_MAILBOX_GONE",
    Failure.POLICY: "E_SMTP_POLICY",
    Failure.PERMANENT: "E_SMTP_PERMANENT",
    Failure.UNCERTAIN: "E_SMTP_UNCERTAIN",
}
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
    # 421/45x: the receiver asks us to slow down; back off over about eight hours.
    retry_schedule: ClassVar[tuple[float, ...]] = Settings.mail_retry_schedule
    # How long a row may wait for the shared rate limit before it is deferred instead.
    rate_wait_seconds: ClassVar[float] = 5.0

    def __init__(self, ctx: ChannelContext) -> None:
        super().__init__(ctx)
        # Rows in flight: twice the connections, so that each connection finds its next
        # message composed when it is done with one. All of them go to one server.
        self.connections = ctx.settings.smtp_connections
        self.concurrency = self.group_limit = 2 * self.connections
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
        if self.ctx.settings.mail_rate_per_s and not await asyncio.to_thread(self._throttle, batch):
            self._markers.pop(job.delivery_id, None)
            return DeliveryOutcome.deferred(
                job.delivery_id, utcnow() + timedelta(seconds=1), "rate_limit"
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
        try:
            reply = await pool.send(settings.sender, to, data)
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
        return DeliveryOutcome(
            job.delivery_id,
            ok=True,
            duration_ms=(time.perf_counter() - started) * 1000,
            status_code=reply.code,
            response=reply.text,
            endpoint=pool.endpoint,
            message_id=message_id,
        )

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
        reply: SmtpReply = error.reply
        self._markers.pop(job.delivery_id, None)
        final = {Failure.MAILBOX_GONE: "suppressed", Failure.UNCERTAIN: "uncertain"}
        return DeliveryOutcome(
            job.delivery_id,
            ok=False,
            retryable=error.failure is Failure.TEMPORARY,
            error_class=_FAILED_CLASS[error.failure],
            detail=str(reply) or error.failure.value,
            duration_ms=(time.perf_counter() - started) * 1000,
            status_code=reply.code,
            response=reply.text,
            endpoint=endpoint,
            message_id=message_id,
            final_status=final.get(error.failure),
        )

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
        if not event.type.startswith("digest."):
            return self._compiled.get(
                event.id, lambda: release_newsletter(settings, event.type, event.payload)
            )
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
            "period_label": digests.period_label(mode, day),
            "releases": [release_view(item.release) for item in items],
        }
        key = (event.id, tuple(item.sequence for item in items))
        return self._compiled.get(key, lambda: compile_newsletter(settings, "digest", context))

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
        """In the recording transaction: suppress gone mailboxes, move digest markers."""
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
        subscriber.updated_at = utcnow()
        log.info(kv(msg="subscriber suppressed", target=subscriber_target(subscriber_id)))
