"""Fake channels: real in-memory objects implementing the channel classes, no mocks."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import ClassVar

from sqlalchemy import func, select

from syndicator.channels.base import (
    AsyncChannel,
    BatchContext,
    DeliveryOutcome,
    EventRecord,
    SyncChannel,
)
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.ledger.claims import Claimed
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, utcnow
from tests.factories import make_event


def an_event(db: Database, release_id: int = 1) -> EventRecord:
    with db.session() as session:
        result = store_event(
            session,
            CmsEvent.model_validate(make_event(release_id)),
            webhook_id=f"msg_{release_id}",
            source="hook",
            enqueue=True,
        )
    return EventRecord(result.event_id, "release.published", release_id, "hook", {})


def statuses(db: Database) -> Counter[tuple[str, int]]:
    """(status, attempts) of every row: what the ledger says happened."""
    with db.session() as session:
        rows = session.execute(select(Delivery.status, Delivery.attempts))
        return Counter((status, attempts) for status, attempts in rows)


def attempt_outcomes(db: Database) -> Counter[str]:
    with db.session() as session:
        rows = session.execute(
            select(DeliveryAttempt.outcome, func.count()).group_by(DeliveryAttempt.outcome)
        )
        return Counter({outcome: count for outcome, count in rows})


class Newsletter(SyncChannel):
    """Plans ``count`` subscribers; delivers to a list, optionally doing ``each`` first."""

    name: ClassVar[str] = "newsletter"
    queue: ClassVar[str] = "email"
    retry_schedule: ClassVar[tuple[float, ...]] = (5, 60)

    def __init__(self, count: int = 3, each: Callable[[Claimed], None] | None = None) -> None:
        self.count = count
        self.each = each
        self.delivered: list[str] = []

    def plan(self, event: EventRecord) -> Iterator[str]:
        return (f"subscriber:{n}" for n in range(self.count))

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        if self.each:
            self.each(job)
        self.delivered.append(job.target)
        return DeliveryOutcome(job.delivery_id, ok=True)


class Partners(AsyncChannel):
    """Partner webhooks: ``groups`` partners, counting how many rows are in flight."""

    name: ClassVar[str] = "partners"
    queue: ClassVar[str] = "webhooks"
    concurrency: int = 50
    group_limit: int = 5

    def __init__(self, count: int, groups: int, seconds: float = 0.002) -> None:
        self.count = count
        self.groups = groups
        self.seconds = seconds
        self.in_flight: Counter[str] = Counter()
        self.most_per_group = 0
        self.most_overall = 0
        self.delivered: list[str] = []
        self.hang: set[str] = set()  # groups whose partner never answers

    def plan(self, event: EventRecord) -> Iterator[str]:
        return (f"partner:{n}" for n in range(self.count))

    def group(self, target: str) -> str:
        return f"g{int(target.partition(':')[2]) % self.groups}"

    async def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        group = self.group(job.target)
        self.in_flight[group] += 1
        self.most_per_group = max(self.most_per_group, self.in_flight[group])
        self.most_overall = max(self.most_overall, sum(self.in_flight.values()))
        try:
            await asyncio.sleep(3600 if group in self.hang else self.seconds)
        finally:
            self.in_flight[group] -= 1
        self.delivered.append(job.target)
        return DeliveryOutcome(job.delivery_id, ok=True)


class Busy(SyncChannel):
    """A partner at its cap: says "not now" to each row the first time it sees it."""

    name: ClassVar[str] = "busy"
    queue: ClassVar[str] = "webhooks"

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.seen: set[int] = set()
        self.delivered: list[str] = []

    def plan(self, event: EventRecord) -> Iterator[str]:
        return iter(["partner:1", "partner:2"])

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        if job.delivery_id not in self.seen:
            self.seen.add(job.delivery_id)
            not_before = utcnow() + timedelta(seconds=self.wait)
            return DeliveryOutcome.deferred(job.delivery_id, not_before, "partner_cap")
        self.delivered.append(job.target)
        return DeliveryOutcome(job.delivery_id, ok=True)


def slow(seconds: float) -> Callable[[Claimed], None]:
    return lambda _job: time.sleep(seconds)
