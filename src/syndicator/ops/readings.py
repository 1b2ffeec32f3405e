"""One reading of the pipeline: the numbers /metrics and ``syndicator status`` show.

Cheap enough to take every scrape: a fixed number of small queries, each an index seek
or an index range no larger than what it counts (waiting retries, overdue rows, the
outbox backlog), plus one Redis pipeline. Nothing here scans the ledger or the attempts.

Ages come from the database, because Redis lists carry no timestamps: a channel's oldest
pending age is how long its oldest due row has waited (since it was planned, or since
its retry fell due); a queue's is the oldest of its channels', and for ``events`` the
oldest fan-out relayed but not run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import redis
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from syndicator.channels.registry import ALL_QUEUES, CHANNEL_TYPES, EVENTS_QUEUE
from syndicator.ledger.claimers import read_liveness
from syndicator.ledger.tallies import Tally, read_tallies
from syndicator.mail.rates import FEEDBACK_KINDS, window_rates
from syndicator.runtime.coordination import beat_seen, consumers_seen, queue_heartbeats
from syndicator.runtime.readiness import PipelineCause, pipeline_problems
from syndicator.store.db import Database
from syndicator.store.models import (
    ChannelPause,
    Delivery,
    OutboxEntry,
    Partner,
    Subscriber,
    utcnow,
)

__all__ = [
    "OVERDUE_AFTER",
    "PRIORITY_SUFFIXES",
    "ChannelReading",
    "NewsletterReading",
    "QueueReading",
    "Readings",
    "collect_readings",
]

# A retry this late means the sweeper (beat) or the channel's workers are not keeping up.
OVERDUE_AFTER = timedelta(minutes=1)
# kombu's Redis transport keeps priorities in sibling lists named with these separators.
PRIORITY_SUFFIXES = ("", *(f"\x06\x16{p}" for p in (3, 6, 9)))
# Unacked messages are few (one per busy worker process); past this, count them only.
_UNACKED_READ_LIMIT = 10_000
# Literal, not bound: the planner must see the partial index's own predicate.
_FRESH = text("deliveries.status = 'pending' AND deliveries.next_attempt_at IS NULL")


@dataclass(frozen=True)
class ChannelReading:
    name: str
    queue: str
    oldest_pending_seconds: float  # 0 when nothing is due
    retries_scheduled: int  # pending, attempted before, next attempt in the future
    overdue: int  # pending, next attempt more than OVERDUE_AFTER past
    paused: bool = False  # an operator paused it: its rows wait on purpose
    pause_reason: str | None = None  # why, when syndicator paused it by itself


@dataclass(frozen=True)
class NewsletterReading:
    """Bounces and complaints of the newsletters last sent in the past 7 days, and of the
    latest newsletter alone (mail/rates.py): messages that drew a report, by kind."""

    sent_7d: int = 0
    feedback_7d: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEEDBACK_KINDS, 0))
    latest_event_id: str | None = None
    latest_sent: int = 0
    latest_feedback: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(FEEDBACK_KINDS, 0)
    )

    def rate_7d(self, kind: str) -> float:
        return self.feedback_7d.get(kind, 0) / self.sent_7d if self.sent_7d else 0.0

    def latest_rate(self, kind: str) -> float:
        return self.latest_feedback.get(kind, 0) / self.latest_sent if self.latest_sent else 0.0


@dataclass(frozen=True)
class QueueReading:
    name: str
    messages: int  # LLEN of the queue and its priority lists
    unacked: int  # taken by a worker, not acknowledged yet
    oldest_pending_seconds: float
    consumers: int  # workers seen consuming in the last minute
    heartbeat_age_seconds: float | None


@dataclass
class Readings:
    channels: list[ChannelReading]
    outbox_backlog: int
    outbox_oldest_seconds: float
    outbox_awaiting_fanout: int
    events_oldest_seconds: float  # the oldest fan-out relayed but not run
    tallies: list[Tally]
    partners: dict[str, int]
    subscribers: dict[str, int]
    # Worker processes heartbeating, and claims held by ones that are gone (ledger/claimers).
    live_workers: int = 0
    lost_claims: int = 0
    queues: list[QueueReading] | None = None  # None: Redis did not answer
    beat_age_seconds: float | None = None
    redis_error: str | None = None
    pipeline: list[PipelineCause] = field(default_factory=list)
    newsletters: NewsletterReading = field(default_factory=NewsletterReading)


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def _channel_reading(session: Session, name: str, queue: str, now: datetime) -> ChannelReading:
    in_channel = (Delivery.channel == name, Delivery.status == "pending")
    fresh = session.scalar(
        select(func.min(Delivery.created_at)).where(Delivery.channel == name, _FRESH)
    )
    due = session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            *in_channel, Delivery.next_attempt_at <= now
        )
    )
    retries = session.scalar(
        select(func.count()).where(
            *in_channel, Delivery.next_attempt_at > now, Delivery.attempts > 0
        )
    )
    overdue = session.scalar(
        select(func.count()).where(*in_channel, Delivery.next_attempt_at < now - OVERDUE_AFTER)
    )
    oldest = min((t for t in (fresh, due) if t is not None), default=None)
    return ChannelReading(name, queue, _age(now, oldest), int(retries or 0), int(overdue or 0))


def _partners(session: Session) -> dict[str, int]:
    counts = {"active": 0, "disabled": 0, "failing": 0}
    failing = Partner.failing_since.is_not(None)
    query = select(Partner.state, failing, func.count()).group_by(Partner.state, failing)
    for state, is_failing, n in session.execute(query):
        if state in counts:  # deleted partners are gone, as far as operators care
            counts[state] += n
        if state == "active" and is_failing:
            counts["failing"] += n
    return counts


SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "suppressed", "erased")


def _subscribers(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(SUBSCRIBER_STATUSES, 0)
    # An index-only scan of ix_subscribers_mailing, which leads with the status.
    query = select(Subscriber.status, func.count()).group_by(Subscriber.status)
    counts.update({status: int(n) for status, n in session.execute(query)})
    return counts


def _newsletters(session: Session, now: datetime) -> NewsletterReading:
    window = window_rates(session, now)
    latest = window.latest
    return NewsletterReading(
        window.sent,
        dict(window.counts),
        latest.event_id if latest else None,
        latest.sent if latest else 0,
        dict(latest.counts) if latest else dict.fromkeys(FEEDBACK_KINDS, 0),
    )


def _outbox(session: Session, now: datetime) -> tuple[int, float, int, float]:
    waiting = OutboxEntry.relayed_at.is_(None)
    backlog, oldest = session.execute(
        select(func.count(), func.min(OutboxEntry.created_at)).where(waiting)
    ).one()
    unplanned = (OutboxEntry.planned_at.is_(None), OutboxEntry.relayed_at.is_not(None))
    awaiting, relayed = session.execute(
        select(func.count(), func.min(OutboxEntry.relayed_at)).where(*unplanned)
    ).one()
    return int(backlog), _age(now, oldest), int(awaiting), _age(now, relayed)


def _unacked_by_queue(client: redis.Redis) -> dict[str, int]:
    counts = dict.fromkeys(ALL_QUEUES, 0)
    total = int(client.hlen("unacked"))
    if total > _UNACKED_READ_LIMIT:
        return counts
    for raw in client.hvals("unacked"):
        try:
            routing_key = json.loads(raw)[2]  # kombu stores [message, exchange, routing_key]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key in counts:
            counts[routing_key] += 1
    return counts


def _queue_readings(
    client: redis.Redis,
    channels: list[ChannelReading],
    events_oldest: float,
    consumer_window: float,
) -> list[QueueReading]:
    pipe = client.pipeline(transaction=False)
    for queue in ALL_QUEUES:
        for suffix in PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
    lengths = pipe.execute()
    unacked = _unacked_by_queue(client)
    consumers = consumers_seen(client, consumer_window)
    beats = queue_heartbeats(client)
    now = time.time()
    oldest = {EVENTS_QUEUE: events_oldest}
    for channel in channels:
        oldest[channel.queue] = max(oldest.get(channel.queue, 0.0), channel.oldest_pending_seconds)
    n = len(PRIORITY_SUFFIXES)
    readings = []
    for i, queue in enumerate(ALL_QUEUES):
        beat = beats.get(queue)
        readings.append(
            QueueReading(
                queue,
                int(sum(lengths[i * n : (i + 1) * n])),
                unacked[queue],
                oldest.get(queue, 0.0),
                consumers[queue],
                max(0.0, now - beat.at) if beat else None,
            )
        )
    return readings


def collect_readings(
    db: Database,
    client: redis.Redis,
    *,
    stale_after: timedelta,
    consumer_window: float,
) -> Readings:
    """``stale_after``: when a silent worker is gone (SYNDICATOR_WORKER_STALE_SECONDS);
    ``consumer_window``: how recent a worker's proof of consuming must be to count it."""
    now = utcnow()
    with db.read_session() as session:
        paused = {
            channel: reason
            for channel, reason in session.execute(
                select(ChannelPause.channel, ChannelPause.reason)
            )
        }
        channels = [
            replace(
                _channel_reading(session, k.name, k.queue, now),
                paused=k.name in paused,
                pause_reason=paused.get(k.name),
            )
            for k in CHANNEL_TYPES
        ]
        backlog, outbox_oldest, awaiting, events_oldest = _outbox(session, now)
        readings = Readings(
            channels=channels,
            outbox_backlog=backlog,
            outbox_oldest_seconds=outbox_oldest,
            outbox_awaiting_fanout=awaiting,
            events_oldest_seconds=events_oldest,
            tallies=read_tallies(session),
            partners=_partners(session),
            subscribers=_subscribers(session),
            newsletters=_newsletters(session, now),
        )
        liveness = read_liveness(session, now, stale_after)
        readings.live_workers, readings.lost_claims = liveness.live_workers, liveness.lost_claims
    try:
        readings.queues = _queue_readings(client, channels, events_oldest, consumer_window)
        beat = beat_seen(client)
    except redis.RedisError as exc:
        readings.redis_error = str(exc)
    else:
        readings.beat_age_seconds = max(0.0, time.time() - beat) if beat is not None else None
    readings.pipeline = pipeline_problems(db, client, stale_after=stale_after)
    return readings
