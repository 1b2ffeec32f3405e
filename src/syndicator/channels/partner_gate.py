"""The partner gate: whether a delivery may go to its partner now, and what its answer
teaches. Every partner policy of the webhooks channel sits behind two calls:

- :meth:`PartnerGate.admit` gives a :class:`PartnerLease` (a place within the partner's
  caps) or a :class:`Deferral` (not now, and until when; no attempt is spent);
- :meth:`PartnerGate.observe` gives the lease back with the outcome of the request.

Behind them: the caps on requests in flight and per second shared by every worker
(partners/throttle.py), and slow-partner tracking. A partner left without an answer for
``slow_after`` seconds is marked slow for every worker: it then gets one request at a
time, so a partner that hangs holds one worker batch, not all of them. The mark is
cleared when it answers (a timeout keeps it until it lapses).

Health moves with the attempts the ledger records (:meth:`PartnerGate.recorded`): a
partner that has only failed for days, or answered 410, is disabled, and a notice to its
operators is written in the same transaction (a ledger delivery on the notices channel).

Time comes from a :class:`Clock`, so the policy is tested on a fake one without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from syndicator.channels.base import Deadline, RecordedAttempt
from syndicator.channels.http_outcomes import HttpOutcome
from syndicator.config import Settings
from syndicator.intake.notices import post_notice
from syndicator.logs import kv
from syndicator.partners.directory import PartnerSnapshot, partner_id
from syndicator.partners.health import Disabled, Observation, observe
from syndicator.partners.throttle import Lease, Refusal, SlowPartners, Throttle
from syndicator.store.models import utcnow

__all__ = [
    "CAPS_RETRY_SECONDS",
    "INLINE_WAIT_SECONDS",
    "SLOW_HOLD_SECONDS",
    "Caps",
    "Clock",
    "Deferral",
    "LoopClock",
    "PartnerGate",
    "PartnerLease",
    "SlowList",
    "shared_in_redis",
]

log = logging.getLogger("syndicator.webhooks")

# A row waits this long in all for a rate limit's next token before it is deferred.
INLINE_WAIT_SECONDS = 2.0
# When Redis (the caps' shared state) does not answer, rows wait this long.
CAPS_RETRY_SECONDS = 5.0
# A slow partner stays marked this long after its request timed out (unless it answers).
SLOW_HOLD_SECONDS = 60.0
# A full or slow partner's slot usually frees when a request ends, long before its lease
# expires: its rows come back this soon at the latest.
_SLOT_RETRY_SECONDS = 2.0


class Caps(Protocol):
    """Per-partner caps shared by every worker (partners/throttle.py's Throttle)."""

    async def acquire(
        self, partner_id: int, max_in_flight: int | None, rate_per_s: float | None
    ) -> Lease | Refusal: ...

    async def release(self, lease: Lease) -> None: ...


class SlowList(Protocol):
    """Partners some worker waited on too long (partners/throttle.py's SlowPartners)."""

    async def current(self) -> set[int]: ...

    async def mark(self, partner_id: int) -> None: ...

    async def clear(self, partner_id: int) -> None: ...


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer: ...


class LoopClock:
    """The real clock: wall time for not-before times, the running loop for waits."""

    def now(self) -> datetime:
        return utcnow()

    def sleep(self, seconds: float) -> Awaitable[None]:
        return asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(seconds, callback)


@dataclass(frozen=True)
class Deferral:
    not_before: datetime
    reason: str  # partner_cap | partner_slow | rate_limit | caps_unavailable


@dataclass(eq=False)
class PartnerLease:
    """A request admitted to its partner; give it back with :meth:`PartnerGate.observe`."""

    partner_id: int
    lease: Lease
    timer: Timer | None = None
    marked_slow: bool = field(default=False)


def shared_in_redis(redis: Redis, request_timeout: float) -> tuple[Throttle, SlowPartners]:
    """The caps and slow list every worker shares, in ``redis``."""
    return (
        # A lease outlives the longest request, so a killed worker's slot comes back.
        Throttle(redis, request_timeout + 30),
        # Marked slow for a while after a timeout: the next batches do not wait on it.
        SlowPartners(redis, request_timeout + SLOW_HOLD_SECONDS),
    )


class PartnerGate:
    def __init__(
        self,
        connect: Callable[[], tuple[Caps, SlowList]],
        slow_after: float,
        settings: Settings,
        clock: Clock | None = None,
    ) -> None:
        """``connect`` makes the shared caps and slow list, on the first admission (inside
        the event loop that will use them)."""
        self._connect = connect
        self._shared: tuple[Caps, SlowList] | None = None
        self.slow_after = slow_after
        self.settings = settings
        self.clock = clock or LoopClock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def admit(self, partner: PartnerSnapshot, deadline: Deadline) -> PartnerLease | Deferral:
        """A place within the partner's caps, or the row deferred without an attempt. A
        partner with no limits that no worker finds slow needs no Redis round trip.

        A rate limit's next token is usually less than a second away: the row waits for
        it here (bounded), rather than for the sweeper's next pass. A full or slow
        partner's row is deferred at once: its slots free only when requests end."""
        waited = 0.0
        while True:
            try:
                slow = partner.id in await self._slow().current()
                if not (slow or partner.max_in_flight or partner.rate_limit_per_s):
                    return self._leased(Lease(partner.id, None))
                cap = 1 if slow else partner.max_in_flight
                got = await self._caps().acquire(partner.id, cap, partner.rate_limit_per_s)
            except RedisError as exc:
                log.warning(kv(msg="partner caps unavailable", error=type(exc).__name__))
                return self._deferral(CAPS_RETRY_SECONDS, "caps_unavailable")
            if isinstance(got, Lease):
                return self._leased(got)
            reason = "partner_slow" if slow and got.reason == "partner_cap" else got.reason
            wait = got.wait_seconds
            inline = waited + wait <= INLINE_WAIT_SECONDS
            if reason == "rate_limit" and inline and deadline.remaining() > wait + 1:
                await self.clock.sleep(wait)
                waited += wait
                continue
            return self._deferral(
                wait if reason == "rate_limit" else min(wait, _SLOT_RETRY_SECONDS), reason
            )

    async def observe(self, lease: PartnerLease, result: HttpOutcome | None) -> None:
        """The request is over (``result`` None: cancelled): give its place back, and
        clear a slow mark it earned if the partner answered after all."""
        if lease.timer is not None:
            lease.timer.cancel()
        if lease.lease.lease_id is not None:
            try:
                await self._caps().release(lease.lease)
            except RedisError as exc:  # the lease expires by itself
                log.warning(kv(msg="could not release a partner slot", error=type(exc).__name__))
        if lease.marked_slow and result is not None and result.error_class != "timeout":
            try:
                await self._slow().clear(lease.partner_id)
            except RedisError as exc:  # the mark lapses by itself
                log.warning(kv(msg="could not clear a slow partner", error=type(exc).__name__))

    def recorded(self, session: Session, attempts: Sequence[RecordedAttempt]) -> list[Disabled]:
        """Move each partner's health in the transaction recording ``attempts``; tell the
        operators of those it disabled, and return them."""
        observations = [
            Observation(
                partner_id(item.job.target),
                item.record.started_at,
                item.record.outcome == "succeeded",
                item.record.status_code,
                item.record.error_class,
            )
            for item in attempts
        ]
        disabled = observe(session, observations)
        for item in disabled:
            log.warning(kv(msg="partner disabled", partner_id=item.partner_id, reason=item.reason))
            if self.settings.ops_email:
                post_notice(session, "partner.disabled", asdict(item))
        return disabled

    async def aclose(self) -> None:
        """Wait for the slow marks still being written."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- inside ---------------------------------------------------------------------

    def _caps(self) -> Caps:
        if self._shared is None:
            self._shared = self._connect()
        return self._shared[0]

    def _slow(self) -> SlowList:
        if self._shared is None:
            self._shared = self._connect()
        return self._shared[1]

    def _leased(self, lease: Lease) -> PartnerLease:
        admitted = PartnerLease(lease.partner_id, lease)
        # Past slow_after without an answer, every worker learns this partner is slow.
        admitted.timer = self.clock.call_later(self.slow_after, lambda: self._late(admitted))
        return admitted

    def _late(self, admitted: PartnerLease) -> None:
        admitted.marked_slow = True
        self._background(self._mark(admitted.partner_id))

    async def _mark(self, partner: int) -> None:
        try:
            await self._slow().mark(partner)
            log.info(kv(msg="partner slow", partner_id=partner, after_s=self.slow_after))
        except RedisError as exc:
            log.warning(kv(msg="could not mark a slow partner", error=type(exc).__name__))

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._tasks.discard)

    def _deferral(self, seconds: float, reason: str) -> Deferral:
        return Deferral(self.clock.now() + timedelta(seconds=seconds), reason)
