"""Running deliveries: claim, call the channel, record every attempt, plan retries.

Failure handling lives here once; channels only classify their errors.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from syndicator.channels.base import Channel, DeliveryOutcome, DeliveryReport, EventRecord
from syndicator.logs import kv
from syndicator.store.db import Database
from syndicator.store.ledger import (
    AttemptRecord,
    Claimed,
    claim,
    claim_pending,
    ensure_deliveries,
    record_attempt,
)
from syndicator.store.models import Event, utcnow
from syndicator.store.outbox import mark_planned

__all__ = ["Enqueue", "load_event", "next_attempt_at", "plan_event", "run_claimed", "run_due"]

log = logging.getLogger("syndicator.delivery.runner")


@dataclass(frozen=True)
class Enqueue:
    """Work the caller must put on the channel's queue."""

    channel: str
    delivery_ids: tuple[int, ...]


def load_event(db: Database, event_id: str) -> EventRecord | None:
    with db.session() as session:
        row = session.scalar(select(Event).where(Event.id == event_id))
        if row is None:
            return None
        return EventRecord(row.id, row.type, row.release_id, row.source, row.payload)


def plan_event(db: Database, channels: dict[str, Channel], event: EventRecord) -> list[Enqueue]:
    """Create the ledger rows for every channel; re-planning an event finds the same rows."""
    work = []
    with db.session() as session:
        for channel in channels.values():
            targets = channel.plan(event)
            ids = ensure_deliveries(session, event.id, channel.name, targets)
            if ids:
                work.append(Enqueue(channel.name, tuple(ids)))
        mark_planned(session, event.id)
    log.info(
        kv(
            msg="event planned",
            event_id=event.id,
            type=event.type,
            release_id=event.release_id,
            deliveries=",".join(f"{w.channel}:{len(w.delivery_ids)}" for w in work) or "none",
        )
    )
    return work


def next_attempt_at(
    delays: Sequence[float], attempt: int, now: datetime, retry_after: float | None = None
) -> datetime | None:
    """When to try again after failed attempt number ``attempt``; None when exhausted."""
    if attempt > len(delays):
        return None
    delay = delays[attempt - 1] * random.uniform(0.8, 1.2)  # jitter spreads a herd
    if retry_after is not None:
        delay = max(delay, min(retry_after, 24 * 3600))
    return now + timedelta(seconds=delay)


def _record(
    channel: Channel,
    job: Claimed,
    outcome: DeliveryOutcome,
    started: datetime,
    batch_ms: float,
    trigger: str,
) -> AttemptRecord:
    duration = outcome.duration_ms if outcome.duration_ms is not None else batch_ms
    if outcome.ok:
        return AttemptRecord(
            job.delivery_id,
            job.attempt,
            "succeeded",
            started,
            duration,
            detail=outcome.detail,
            trigger=trigger,
        )
    retry = (
        next_attempt_at(channel.retry_delays, job.attempt, utcnow(), outcome.retry_after)
        if outcome.retryable
        else None
    )
    return AttemptRecord(
        job.delivery_id,
        job.attempt,
        "retrying" if retry else "failed",
        started,
        duration,
        error_class=outcome.error_class,
        detail=outcome.detail,
        next_attempt_at=retry,
        trigger=trigger,
    )


def _deliver(channel: Channel, jobs: Sequence[Claimed]) -> DeliveryReport:
    try:
        return channel.deliver(jobs)
    except Exception as exc:  # a bug or outage in the channel must still be recorded
        log.exception(kv(msg="channel raised", channel=channel.name))
        detail = f"{type(exc).__name__}: {exc}"
        return DeliveryReport(
            [
                DeliveryOutcome(
                    job.delivery_id,
                    ok=False,
                    retryable=True,
                    error_class=type(exc).__name__,
                    detail=detail,
                )
                for job in jobs
            ]
        )


def run_claimed(
    db: Database, channel: Channel, jobs: Sequence[Claimed], trigger: str = "scheduled"
) -> list[Enqueue]:
    """Deliver rows this worker holds; returns follow-up work to enqueue."""
    if not jobs:
        return []
    started = utcnow()
    clock = time.perf_counter()
    report = _deliver(channel, jobs)
    batch_ms = (time.perf_counter() - clock) * 1000
    by_id = {o.delivery_id: o for o in report.outcomes}
    follow: list[Enqueue] = []
    with db.session() as session:
        for job in jobs:
            outcome = by_id.get(job.delivery_id) or DeliveryOutcome(
                job.delivery_id,
                ok=False,
                error_class="E_NO_OUTCOME",
                detail="channel returned no outcome for this delivery",
            )
            record = _record(channel, job, outcome, started, batch_ms, trigger)
            record_attempt(session, record)
            log.info(
                kv(
                    msg="delivery attempt",
                    channel=channel.name,
                    target=job.target,
                    outcome=record.outcome,
                    attempt=job.attempt,
                    duration_ms=f"{record.duration_ms:.1f}",
                    delivery_id=job.delivery_id,
                    event_id=job.event_id,
                    error=record.error_class or "-",
                )
            )
        for item in report.follow_ups:
            ids = ensure_deliveries(session, item.event_id, item.channel, item.targets)
            follow.append(Enqueue(item.channel, tuple(ids)))
    return follow


def run_due(
    db: Database, channel: Channel, delivery_ids: Sequence[int] | None, trigger: str = "scheduled"
) -> list[Enqueue]:
    """Claim (given rows, or every due row of a coalescing channel) and deliver them."""
    with db.session() as session:
        jobs = (
            claim_pending(session, channel.name)
            if delivery_ids is None
            else claim(session, delivery_ids)
        )
    return run_claimed(db, channel, jobs, trigger)
