"""The small interface every channel implements.

A channel never sees Celery, retries or the ledger. It says which targets an event needs
(``plan``) and delivers claimed rows, classifying each failure once as retryable or
permanent. Like httpx's ``BaseTransport`` and ``AsyncBaseTransport``, there is one class
per way of delivering, each with one method to write:

- :class:`SyncChannel`: ``deliver(job, batch)``, one row at a time (an SMTP connection).
- :class:`AsyncChannel`: ``async deliver(job, batch)``; the runner runs rows concurrently,
  at most ``concurrency`` at once and ``group_limit`` per ``group(target)`` (a partner, a
  mail server), and records each outcome as it completes.
- :class:`CoalescingChannel`: ``deliver_batch(jobs, batch)`` takes every due row at once
  under one lock (feeds: one render covers a burst of publishes).

Targets are opaque references, ``kind`` or ``kind:id`` (``site``, ``subscriber:1234``,
``partner:7``). They become part of a ledger key and of the ``delivery attempt`` log line,
so they must never carry personal data: a channel looks the address up when it delivers.
``plan`` may yield millions; the runner writes them in chunks, so it must not hold a
database session open across a ``yield`` (read in pages, one short session per page).

Resources (an SMTP connection, an HTTP client) belong to the channel instance, which lives
as long as its worker process: open them lazily on first use, close them in ``close`` (or
``aclose`` for an async channel, which runs on the process's event loop).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy.orm import Session

from syndicator.config import Settings
from syndicator.ledger.attempts import AttemptRecord
from syndicator.ledger.claims import Claimed
from syndicator.ledger.targets import TARGET_REF
from syndicator.store.db import Database

__all__ = [
    "MAX_RETRY_AFTER_SECONDS",
    "AsyncChannel",
    "BatchContext",
    "Channel",
    "ChannelContext",
    "CoalescingChannel",
    "Deadline",
    "DeliveryOutcome",
    "DeliveryReport",
    "EventRecord",
    "FollowUp",
    "RecordedAttempt",
    "SyncChannel",
]

# A receiver's Retry-After may postpone a retry by at most this long.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class EventRecord:
    id: str
    type: str
    release_id: int | None
    source: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class DeliveryOutcome:
    delivery_id: int
    ok: bool
    retryable: bool = True
    error_class: str | None = None
    detail: str | None = None
    duration_ms: float | None = None
    # A receiver's Retry-After, honoured by the retry planner when set.
    retry_after: float | None = None
    # Deferred: not now and not a failure (a partner at its cap, a rate limit, SMTP 421).
    # The row waits until then and no attempt is spent. It is logged, not written to
    # delivery_attempts: no receiver was called, and a throttled row may wait many times.
    not_before: datetime | None = None
    # What the attempt log shows: the receiver's status (HTTP status, SMTP reply code;
    # 0 for a network error), an excerpt of its answer, where it went (a URL, a mail
    # server), and the id the message went out with (a Message-ID, a webhook-id).
    status_code: int | None = None
    response: str | None = None
    endpoint: str | None = None
    message_id: str | None = None
    # A terminal state other than failed, when not ok: ``suppressed`` (the address is
    # gone: no more mail to it) or ``uncertain`` (the connection dropped after the message
    # was handed over: it may have arrived, so it is never retried by itself).
    final_status: str | None = None

    @classmethod
    def permanent(
        cls,
        delivery_id: int,
        error_class: str,
        detail: str | None = None,
        final_status: str | None = None,
    ) -> DeliveryOutcome:
        """A failure that trying again cannot mend (no hub configured, the event gone, a
        quarantined release): it is recorded once and never retried."""
        return cls(
            delivery_id,
            ok=False,
            retryable=False,
            error_class=error_class,
            detail=detail,
            final_status=final_status,
        )

    @classmethod
    def deferred(cls, delivery_id: int, not_before: datetime, reason: str) -> DeliveryOutcome:
        """``reason`` is a short code for the log line (``partner_cap``, ``smtp_421``)."""
        return cls(delivery_id, ok=False, error_class=reason, not_before=not_before)


@dataclass(frozen=True)
class RecordedAttempt:
    """An attempt as the ledger recorded it, with the row it was about."""

    job: Claimed
    record: AttemptRecord


@dataclass(frozen=True)
class FollowUp:
    """Deliveries another channel must make because this one succeeded."""

    channel: str
    event_id: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class DeliveryReport:
    outcomes: list[DeliveryOutcome]
    follow_ups: list[FollowUp] = field(default_factory=list)


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock, safely before the task's soft time limit."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return time.monotonic() >= self.at


@dataclass(frozen=True)
class BatchContext:
    """What a channel knows about the batch it is delivering.

    Rows not started by ``deadline`` go back to pending without spending an attempt; a
    channel bounds its own waits by ``deadline.remaining()``.
    """

    deadline: Deadline
    trigger: str = "scheduled"  # scheduled | manual
    # The worker process whose claims these are (ledger/claimers.py); None outside a
    # worker, where only the claim lease ends a claim whose holder died.
    worker: str | None = None


@dataclass(frozen=True)
class ChannelContext:
    settings: Settings
    db: Database
    # The worker process's Redis client (shared limits such as the mail rate); None
    # outside a worker, where a channel must do without.
    redis: Redis | None = None
    # Opens an asyncio client to the same Redis, for a channel's event loop (through
    # Sentinel too: runtime/redis_urls.py); None: one is derived from ``redis``.
    async_redis: Callable[[], AsyncRedis] | None = None


class Channel:
    """What every channel declares. Subclass one of the three kinds below."""

    name: ClassVar[str]
    queue: ClassVar[str]
    coalesce: ClassVar[bool] = False
    # Rows per deliver task: the unit of claim and of a task's time budget.
    batch_size: ClassVar[int] = 100
    # Delays before retries 2, 3, ...; the attempt after the last one is final.
    retry_schedule: ClassVar[tuple[float, ...]] = (5, 60, 300, 1800)
    # What a target looks like; every target is checked before it reaches the ledger.
    target_pattern: ClassVar[re.Pattern[str]] = TARGET_REF
    # Targets drawn from an audience (subscribers) that may run to 100,000 rows: the
    # fan-out plans such a channel after the others, so its rows never hold up theirs.
    audience: ClassVar[bool] = False
    # Each target gets a release's events in order, one at a time (ledger/ordering.py).
    in_order: ClassVar[bool] = False
    # Outcomes written per recording transaction, at most (a second bounds the wait too).
    # A worker killed mid-batch loses at most this many outcomes: those rows are resent.
    flush_rows: ClassVar[int] = 100
    # Successes logged as one line per recording transaction, each one at DEBUG: a
    # newsletter's 100,000 would be as many lines. Other outcomes keep a line each.
    summarise_successes: ClassVar[bool] = False

    def __init__(self, ctx: ChannelContext) -> None:
        self.ctx = ctx

    def plan(self, event: EventRecord) -> Iterable[str]:
        """Target references for this event; may be a generator over millions."""
        return ()

    def retry_delays(self, target: str) -> Sequence[float]:
        """The retry schedule for one target (each partner may have its own)."""
        return self.retry_schedule

    def recorded(self, session: Session, attempts: Sequence[RecordedAttempt]) -> None:
        """Called in the transaction that records ``attempts``: move what must move with
        a delivery (a subscriber's digest marker, a partner's failing-since time)."""


class SyncChannel(Channel):
    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        raise NotImplementedError

    def close(self) -> None:
        """Release per-process resources; called once when the worker process exits."""


class AsyncChannel(Channel):
    # Rows in flight at once in one batch, and per group within it (a channel may set
    # them per instance, from its settings).
    concurrency: int = 100
    group_limit: int = 5
    # A worker's batch claims more due rows of the channel as its own finish (see
    # delivery/aio.py): a fan-out then flows without a pause between tasks.
    top_up: ClassVar[bool] = True

    def group(self, target: str) -> str:
        """Which cap a target counts against: its partner, its mail server."""
        return target

    async def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release per-process resources, on the event loop that opened them."""


class CoalescingChannel(Channel):
    coalesce: ClassVar[bool] = True
    # Runs at most once per this many seconds.
    min_interval: ClassVar[float] = 0.25

    def deliver_batch(self, jobs: Sequence[Claimed], batch: BatchContext) -> DeliveryReport:
        raise NotImplementedError

    def close(self) -> None:
        """Release per-process resources; called once when the worker process exits."""
