"""What the console pages read from the database, beyond ``ops.readings``' numbers.

Every query is bounded (a LIMIT, a keyset page, or one release's events), so a console
open on a wall refreshes cheaply however long the history grows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicator.ledger.attempts import attempts_by_delivery
from syndicator.partners.delivery_log import shown_ms
from syndicator.partners.registry import CHANNEL as PARTNER_CHANNEL
from syndicator.store.db import Database
from syndicator.store.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    OutboxEntry,
    Partner,
    Release,
    utcnow,
)

__all__ = [
    "FAILED_OUTCOMES",
    "STORY_PAGE",
    "AttemptLine",
    "ChannelStory",
    "FailureGroup",
    "OutboxRow",
    "PartnerRow",
    "ReleaseStory",
    "TargetStory",
    "attempts_per_hour",
    "outbox_rows",
    "partner_rows",
    "recent_attempts",
    "recent_failures",
    "release_story",
]

FAILED_OUTCOMES = ("failed", "retrying", "uncertain")
_FAILURE_WINDOW = 500  # the newest failed attempts read for the failures page
STORY_PAGE = 200  # targets shown per channel on a release's page


@dataclass
class FailureGroup:
    channel: str
    target: str
    attempts: int
    last_at: datetime
    error_class: str | None
    detail: str | None
    status_code: int | None
    delivery_ids: list[int] = field(default_factory=list)
    delivery_status: str = ""


def recent_failures(db: Database) -> list[FailureGroup]:
    """The newest failed attempts, grouped by channel and target, newest group first."""
    query = (
        select(DeliveryAttempt, Delivery.channel, Delivery.target, Delivery.status)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(DeliveryAttempt.outcome.in_(FAILED_OUTCOMES))
        .order_by(DeliveryAttempt.id.desc())
        .limit(_FAILURE_WINDOW)
    )
    groups: dict[tuple[str, str], FailureGroup] = {}
    with db.read_session() as session:
        for attempt, channel, target, status in session.execute(query):
            group = groups.get((channel, target))
            if group is None:
                group = groups[(channel, target)] = FailureGroup(
                    channel,
                    target,
                    0,
                    attempt.started_at,
                    attempt.error_class,
                    attempt.detail,
                    attempt.status_code,
                    delivery_status=status,
                )
            group.attempts += 1
            if attempt.delivery_id not in group.delivery_ids:
                group.delivery_ids.append(attempt.delivery_id)
    return list(groups.values())


@dataclass(frozen=True)
class PartnerRow:
    id: int
    name: str
    state: str
    failing_since: datetime | None
    disabled_reason: str | None
    last_attempt_at: datetime | None
    last_outcome: str | None
    last_status_code: int | None


def _last_attempt(session: Session, target: str) -> DeliveryAttempt | None:
    # Newest delivery to this target first (ix_deliveries_target), then its newest attempt.
    delivery_ids = (
        select(Delivery.id)
        .where(Delivery.channel == PARTNER_CHANNEL, Delivery.target == target)
        .order_by(Delivery.id.desc())
        .limit(20)
    )
    return session.scalar(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(delivery_ids.scalar_subquery()))
        .order_by(DeliveryAttempt.id.desc())
        .limit(1)
    )


def partner_rows(db: Database, limit: int = 500) -> list[PartnerRow]:
    rows = []
    with db.read_session() as session:
        partners = session.scalars(
            select(Partner).where(Partner.state != "deleted").order_by(Partner.id).limit(limit)
        )
        for p in list(partners):
            last = _last_attempt(session, f"partner:{p.id}")
            rows.append(
                PartnerRow(
                    p.id,
                    p.name,
                    p.state,
                    p.failing_since,
                    p.disabled_reason,
                    last.started_at if last else None,
                    last.outcome if last else None,
                    last.status_code if last else None,
                )
            )
    return rows


@dataclass(frozen=True)
class AttemptLine:
    delivery_id: int
    channel: str
    target: str
    number: int
    trigger: str
    started_at: datetime
    duration_ms: float
    outcome: str
    status_code: int | None
    error_class: str | None
    detail: str | None


def recent_attempts(db: Database, channels: tuple[str, ...], limit: int = 30) -> list[AttemptLine]:
    """The newest attempts of these channels, by target reference only (no addresses)."""
    query = (
        select(DeliveryAttempt, Delivery.channel, Delivery.target)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(Delivery.channel.in_(channels))
        .order_by(DeliveryAttempt.id.desc())
        .limit(limit)
    )
    with db.read_session() as session:
        return [_line(a, channel, target) for a, channel, target in session.execute(query)]


def _line(a: DeliveryAttempt, channel: str, target: str) -> AttemptLine:
    return AttemptLine(
        a.delivery_id,
        channel,
        target,
        a.number,
        a.trigger,
        a.started_at,
        shown_ms(a.duration_ms),
        a.outcome,
        a.status_code,
        a.error_class,
        a.detail,
    )


@dataclass
class TargetStory:
    delivery_id: int
    event_id: str
    target: str
    status: str
    attempts: list[AttemptLine]
    next_attempt_at: datetime | None
    last_error: str | None


@dataclass
class ChannelStory:
    channel: str
    counts: dict[str, int]
    targets: list[TargetStory]
    more_after: int | None  # the last delivery id shown when there are more


@dataclass
class ReleaseStory:
    release_id: int
    title: str | None
    retracted: bool
    events: list[Event]
    channels: list[ChannelStory]


def release_story(
    db: Database, release_id: int, after: dict[str, int] | None = None
) -> ReleaseStory:
    """Its events, then every channel's targets (a page each) with every attempt."""
    after = after or {}
    with db.read_session() as session:
        release = session.get(Release, release_id)
        events = list(
            session.scalars(
                select(Event).where(Event.release_id == release_id).order_by(Event.received_at)
            )
        )
        event_ids = [e.id for e in events]
        counts = session.execute(
            select(Delivery.channel, Delivery.status, func.count())
            .where(Delivery.event_id.in_(event_ids))
            .group_by(Delivery.channel, Delivery.status)
        )
        by_channel: dict[str, Counter[str]] = {}
        for channel, status, n in counts:
            by_channel.setdefault(channel, Counter())[status] += int(n)
        stories = [
            _channel_story(session, event_ids, channel, dict(c), after.get(channel, 0))
            for channel, c in sorted(by_channel.items())
        ]
        session.expunge_all()
    return ReleaseStory(
        release_id,
        release.title if release else None,
        bool(release and release.retracted_at),
        events,
        stories,
    )


def _channel_story(
    session: Session, event_ids: list[str], channel: str, counts: dict[str, int], after: int
) -> ChannelStory:
    rows = list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.event_id.in_(event_ids), Delivery.channel == channel, Delivery.id > after
            )
            .order_by(Delivery.id)
            .limit(STORY_PAGE + 1)
        )
    )
    shown = rows[:STORY_PAGE]
    attempts = attempts_by_delivery(session, [d.id for d in shown])
    targets_story = [
        TargetStory(
            d.id,
            d.event_id,
            d.target,
            d.status,
            [_line(a, channel, d.target) for a in attempts[d.id]],
            d.next_attempt_at,
            d.last_error,
        )
        for d in shown
    ]
    more = shown[-1].id if len(rows) > STORY_PAGE else None
    return ChannelStory(channel, counts, targets_story, more)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: str
    created_at: datetime
    relayed_at: datetime | None
    planned_at: datetime | None
    relay_attempts: int
    last_error: str | None


def outbox_rows(db: Database, limit: int = 100) -> tuple[list[OutboxRow], list[OutboxRow]]:
    """(waiting to be relayed, oldest first; the newest rows)."""
    with db.read_session() as session:
        waiting = session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.relayed_at.is_(None))
            .order_by(OutboxEntry.id)
            .limit(limit)
        )
        waiting_rows = [_outbox(r) for r in waiting]
        newest = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id.desc()).limit(limit))
        return waiting_rows, [_outbox(r) for r in newest]


def _outbox(r: OutboxEntry) -> OutboxRow:
    return OutboxRow(
        r.id, r.event_id, r.created_at, r.relayed_at, r.planned_at, r.relay_attempts, r.last_error
    )


def attempts_per_hour(
    db: Database, hours: int = 24, now: datetime | None = None
) -> tuple[datetime, dict[str, list[int]]]:
    """Attempts per channel in each of the last ``hours`` hours, oldest hour first.
    Returns the start of the first hour and the counts per channel."""
    now = now or utcnow()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    counts: dict[str, list[int]] = {}
    with db.read_session() as session:
        # Bucketed here, streamed: date functions differ per dialect. A day of attempts
        # is read, so the console draws the chart on its own, slower refresh.
        rows = session.execute(
            select(Delivery.channel, DeliveryAttempt.started_at)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(DeliveryAttempt.started_at >= start)
            .execution_options(yield_per=5000)
        )
        for channel, started_at in rows:
            slot = int((started_at - start).total_seconds() // 3600)
            if 0 <= slot < hours:
                counts.setdefault(channel, [0] * hours)[slot] += 1
    return start, counts
