"""Partner webhooks (``partner:<id>``): a signed JSON envelope per event and partner.

Every delivery carries Standard Webhooks headers with a ``webhook-id`` fixed per ledger
row, so retries and replays deduplicate at the receiver. Failures are classified once
(channels/webhook_http.py); the retry schedule is ``SYNDICATOR_WEBHOOK_RETRY_SCHEDULE`` with
±20 % jitter, kept in the ledger's ``next_attempt_at`` and enqueued by the sweeper.

A delivery reads: snapshot (the partner's settings and keys, read for every partner at
most once a second) -> gate (channels/partner_gate.py: caps, rate limits, slow partners; a
partner at its cap has its rows deferred without spending an attempt) -> sign -> post ->
outcome (channels/http_outcomes.py). Each partner is also its own group
(``group_limit`` rows in flight per batch). Rows of other partners in a batch are
recorded as they finish, and the other worker processes carry on with everyone else.

Rows for a disabled or deleted partner are not sent: they fail at once, logged as
``partner-disabled`` (or ``partner-deleted``) without contacting anyone ("discarded"):
the row says why, and ``recover --since`` resends them all once
the partner is enabled again. Deferring them instead would keep them cycling through the
sweeper for days with nothing to show an operator.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import ClassVar

import aiohttp
import redis.asyncio
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator import __version__
from syndicator.channels.base import (
    AsyncChannel,
    BatchContext,
    ChannelContext,
    DeliveryOutcome,
    EventRecord,
    RecordedAttempt,
)
from syndicator.channels.egress import ProxyEgress
from syndicator.channels.http_outcomes import HttpOutcome
from syndicator.channels.partner_gate import Caps, Deferral, PartnerGate, SlowList, shared_in_redis
from syndicator.channels.webhook_http import guarded_session, post
from syndicator.config import Settings
from syndicator.ledger.claims import Claimed
from syndicator.partners.client_certs import client_context
from syndicator.partners.directory import (
    PartnerSnapshot,
    active_partner_targets,
    load_snapshots,
    partner_id,
)
from syndicator.partners.envelope import (
    EVENT_TYPES,
    TEST_EVENT_TYPE,
    build_test_envelope,
    encode,
    envelope_body,
)
from syndicator.partners.signing import signed_headers, webhook_id
from syndicator.partners.ssrf import AsyncResolve, UrlRefused, check_url_offline
from syndicator.store.models import Event, utcnow
from syndicator.store.sealed import Keyring, keyring

__all__ = ["SLOW_AFTER_SECONDS", "USER_AGENT", "WebhooksChannel"]

USER_AGENT = f"syndicator/{__version__} (+partner webhooks)"
# A partner's row in one batch; across batches and processes its max_in_flight rules.
_GROUP_LIMIT = 4
# How long partners' settings and keys are trusted before they are read again (all at
# once: two queries a second, not one per delivery).
_PARTNER_TTL_SECONDS = 1.0
_BODY_CACHE = 64
# A partner with a request unanswered this long is slow: one request at a time, from
# every worker, until it answers in time again (channels/partner_gate.py).
SLOW_AFTER_SECONDS = 3.0


class WebhooksChannel(AsyncChannel):
    name: ClassVar[str] = "webhooks"
    queue: ClassVar[str] = "webhooks"
    target_pattern: ClassVar[re.Pattern[str]] = re.compile(r"partner:[1-9][0-9]{0,17}")
    # The default; SYNDICATOR_WEBHOOK_RETRY_SCHEDULE rules (retry_delays).
    retry_schedule: ClassVar[tuple[float, ...]] = Settings.webhook_retry_schedule
    # A task's rows all in flight at once: one round trip per task, and half the task
    # overhead of 100-row tasks (end to end in bench/webhooks.py, 200 partners: ~1,950
    # against ~1,580 deliveries/s; 200 rows through 100 slots was slower than either).
    batch_size: ClassVar[int] = 200
    concurrency: int = 200
    group_limit: int = _GROUP_LIMIT
    slow_after: ClassVar[float] = SLOW_AFTER_SECONDS
    # A correction never overtakes the release it corrects; a retraction comes last.
    in_order: ClassVar[bool] = True

    def __init__(self, ctx: ChannelContext, resolve: AsyncResolve | None = None) -> None:
        super().__init__(ctx)
        # Name resolution for deliveries; tests map names to addresses here.
        self.resolve = resolve
        self._session: aiohttp.ClientSession | None = None  # per process, on first use
        self._redis: redis.asyncio.Redis | None = None
        self.gate = PartnerGate(self._connect, self.slow_after, ctx.settings)
        self._partners: dict[int, PartnerSnapshot] = {}
        self._partners_until = 0.0  # monotonic: when to read them again
        self._bodies: OrderedDict[str, bytes | None] = OrderedDict()
        proxy = ctx.settings.webhook_proxy
        self._egress = (
            ProxyEgress(proxy, ctx.settings.webhook_allowed_networks, resolve) if proxy else None
        )

    # --- planning -------------------------------------------------------------------

    def plan(self, event: EventRecord) -> Iterable[str]:
        if event.type not in EVENT_TYPES:
            return
        release = event.payload.get("release") or {}
        yield from active_partner_targets(self.ctx.db, event.type, release)

    def retry_delays(self, target: str) -> Sequence[float]:
        return self.ctx.settings.webhook_retry_schedule

    def group(self, target: str) -> str:
        return target  # partner:<id>

    # --- delivering -----------------------------------------------------------------

    async def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        partner = self._partner(partner_id(job.target))
        msg_id = webhook_id(job.event_id, self.name, job.target)
        if (refusal := _not_sendable(job, partner, msg_id)) is not None:
            return refusal
        assert partner is not None
        if (body := self._body(job.event_id)) is None:
            return _skipped(job, "event-missing", f"event {job.event_id} is not stored", msg_id)
        settings = self.ctx.settings
        if (
            refused := _offline_refusal(partner.url, settings.webhook_allowed_networks)
        ) is not None:
            # An IP literal the guard refuses, or a URL that is not http(s): for good.
            return _outcome(
                job, partner, msg_id, HttpOutcome(False, False, "ssrf-refused", refused)
            )
        admitted = await self.gate.admit(partner, batch.deadline)
        if isinstance(admitted, Deferral):
            return DeliveryOutcome.deferred(job.delivery_id, admitted.not_before, admitted.reason)
        ours = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(partner.secrets, msg_id, body),
        }
        # The partner's own headers, except where ours say otherwise, whatever their case.
        headers = {k: v for k, v in partner.headers.items() if k.lower() not in ours} | ours
        started = time.perf_counter()
        limit = max(0.1, min(settings.webhook_timeout, batch.deadline.remaining()))
        result: HttpOutcome | None = None
        try:
            result = await post(
                self._http(),
                partner.url,
                body,
                headers,
                limit,
                settings.webhook_connect_timeout,
                self._egress,
                client_context(*partner.client_tls) if partner.client_tls else None,
            )
        finally:
            await self.gate.observe(admitted, result)
        return _outcome(job, partner, msg_id, result, (time.perf_counter() - started) * 1000)

    def recorded(self, session: Session, attempts: Sequence[RecordedAttempt]) -> None:
        if self.gate.recorded(session, attempts):
            self._partners_until = 0.0  # read the disabled partners' state again

    # --- per-process resources ------------------------------------------------------

    def _partner(self, partner: int) -> PartnerSnapshot | None:
        now = time.monotonic()
        if now >= self._partners_until:
            with self.ctx.db.read_session() as session:
                self._partners = load_snapshots(session, utcnow(), self._keyring())
            self._partners_until = now + _PARTNER_TTL_SECONDS
        return self._partners.get(partner)

    def _keyring(self) -> Keyring:
        return keyring(self.ctx.settings.encryption_keys)

    def _body(self, event_id: str) -> bytes | None:
        """The envelope is the same for every partner: encoded once per event."""
        if event_id in self._bodies:
            self._bodies.move_to_end(event_id)
            return self._bodies[event_id]
        with self.ctx.db.read_session() as session:
            row = session.execute(
                select(Event.type, Event.received_at, Event.payload).where(Event.id == event_id)
            ).first()
        body = None
        if row is not None and row.type in EVENT_TYPES:
            body = envelope_body(
                event_id, row.type, row.received_at, row.payload, self.ctx.settings.base_url
            )
        elif row is not None and row.type == TEST_EVENT_TYPE:
            who = row.payload
            body = encode(
                build_test_envelope(event_id, row.received_at, who["partner_id"], who["name"])
            )
        self._bodies[event_id] = body
        if len(self._bodies) > _BODY_CACHE:
            self._bodies.popitem(last=False)
        return body

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = guarded_session(
                self.ctx.settings.webhook_allowed_networks,
                max_connections=self.concurrency,
                resolve=self.resolve,
                egress=self._egress,
            )
        return self._session

    def _connect(self) -> tuple[Caps, SlowList]:
        """The gate's shared state, in Redis; on first use, in the loop that uses it."""
        self._redis = _async_redis(self.ctx)
        return shared_in_redis(self._redis, self.ctx.settings.webhook_timeout)

    async def aclose(self) -> None:
        await self.gate.aclose()
        self.gate = PartnerGate(self._connect, self.slow_after, self.ctx.settings)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


# What an asyncio connection needs from the worker's client: where, which db, who, TLS.
_CONNECTION_KEYS = ("host", "port", "path", "db", "username", "password", "client_name")


def _async_redis(ctx: ChannelContext) -> redis.asyncio.Redis:
    """An asyncio client to the worker's Redis, for this process's event loop: the
    context's own opener (a worker's: through Sentinel too), else the same server as
    ``ctx.redis`` (the embedded one's socket included), or the configured URL."""
    if ctx.async_redis is not None:
        return ctx.async_redis()
    if ctx.redis is not None:
        pool = ctx.redis.connection_pool
        kwargs = {
            key: value
            for key, value in pool.connection_kwargs.items()
            if key in _CONNECTION_KEYS or key.startswith("ssl")
        }
        kind = getattr(redis.asyncio.connection, pool.connection_class.__name__)
        return redis.asyncio.Redis(
            connection_pool=redis.asyncio.ConnectionPool(
                connection_class=kind, socket_timeout=5, socket_connect_timeout=5, **kwargs
            )
        )
    if ctx.settings.redis_url:
        return redis.asyncio.Redis.from_url(
            ctx.settings.redis_url, socket_timeout=5, socket_connect_timeout=5
        )
    raise RedisError("partner caps need Redis: none configured")


@lru_cache(maxsize=4096)
def _offline_refusal(url: str, allowed_networks: tuple[str, ...]) -> str | None:
    """Why the guard refuses ``url`` without DNS, if it does (cached: URLs repeat)."""
    try:
        check_url_offline(url, allowed_networks)
    except UrlRefused as refused:
        return refused.reason
    return None


def _not_sendable(
    job: Claimed, partner: PartnerSnapshot | None, msg_id: str
) -> DeliveryOutcome | None:
    """A row that must not go out: failed at once, without contacting anyone."""
    if partner is None or partner.state == "deleted":
        return _skipped(job, "partner-deleted", "the partner was deleted", msg_id)
    if partner.state != "active":
        why = partner.disabled_reason or "disabled by an operator"
        detail = f"partner disabled ({why}); enable it, then recover to resend"
        return _skipped(job, "partner-disabled", detail, msg_id)
    if partner.unreadable is not None:
        return _skipped(job, "secret-unreadable", partner.unreadable, msg_id)
    if not partner.secrets:
        return _skipped(job, "no-signing-key", "the partner has no active signing key", msg_id)
    return None


def _skipped(job: Claimed, error_class: str, detail: str, msg_id: str) -> DeliveryOutcome:
    return DeliveryOutcome(
        job.delivery_id,
        ok=False,
        retryable=False,
        error_class=error_class,
        detail=detail,
        duration_ms=0.0,
        message_id=msg_id,
    )


def _outcome(
    job: Claimed,
    partner: PartnerSnapshot,
    msg_id: str,
    result: HttpOutcome,
    duration_ms: float = 0.0,
) -> DeliveryOutcome:
    return result.outcome(job.delivery_id, duration_ms, endpoint=partner.url, message_id=msg_id)
