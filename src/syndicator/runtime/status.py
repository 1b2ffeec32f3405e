"""What operators ask first: how deep are the queues, what waits, what failed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import func, select

from syndicator.channels.registry import ALL_QUEUES
from syndicator.intake.outbox import awaiting_fanout, backlog
from syndicator.ledger.quarantine import list_quarantined
from syndicator.ledger.targets import counts_by_status
from syndicator.runtime.coordination import consuming_queues
from syndicator.runtime.readiness import pipeline_causes
from syndicator.store.db import Database
from syndicator.store.models import Event, Quarantine

__all__ = ["SystemStatus", "collect_status", "queue_depths"]

QUARANTINE_SHOWN = 50

# kombu's Redis transport keeps priorities in sibling lists named with these separators.
_PRIORITY_SUFFIXES = ("", *(f"\x06\x16{p}" for p in (3, 6, 9)))


@dataclass
class SystemStatus:
    queues: dict[str, int] | None
    unacked: int | None
    consuming: dict[str, float | None]
    outbox_backlog: int
    outbox_oldest_seconds: float | None
    # Relayed, fan-out not run yet; the sweeper re-sends those the broker lost.
    outbox_awaiting_fanout: int
    deliveries: dict[str, dict[str, int]]
    redis_error: str | None = None
    # Releases a channel leaves out because they fail to render (newest first, capped).
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    quarantined_total: int = 0
    # Replays of a webhook-id with a different body: the sender has a bug.
    mismatched_replays: int = 0
    # What blocks the pipeline, one sentence each (empty: events flow); /readyz/pipeline.
    pipeline: list[str] = field(default_factory=list)


def queue_depths(client: redis.Redis) -> tuple[dict[str, int], int]:
    pipe = client.pipeline()
    for queue in ALL_QUEUES:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
    pipe.hlen("unacked")
    values = pipe.execute()
    n = len(_PRIORITY_SUFFIXES)
    depths = {q: sum(values[i * n : (i + 1) * n]) for i, q in enumerate(ALL_QUEUES)}
    return depths, int(values[-1])


def collect_status(db: Database, client: redis.Redis, *, stale_after: timedelta) -> SystemStatus:
    count, oldest = backlog(db)
    awaiting = awaiting_fanout(db)
    with db.session() as session:
        counts = counts_by_status(session)
        held = list_quarantined(session, limit=QUARANTINE_SHOWN)
        held_total = session.scalar(select(func.count()).select_from(Quarantine)) or 0
        mismatched = session.scalar(select(func.sum(Event.mismatched_replays))) or 0
    deliveries: dict[str, dict[str, int]] = {}
    for (channel, status), n in sorted(counts.items()):
        deliveries.setdefault(channel, {})[status] = n
    report = SystemStatus(
        None,
        None,
        {},
        count,
        oldest,
        awaiting,
        deliveries,
        quarantined=[item.as_json() for item in held],
        quarantined_total=held_total,
        mismatched_replays=int(mismatched),
    )
    try:
        report.queues, report.unacked = queue_depths(client)
        beats = consuming_queues(client)
    except redis.RedisError as exc:
        report.redis_error = str(exc)
        report.pipeline = [f"cannot reach Redis: {exc}"]
        return report
    report.pipeline = pipeline_causes(db, client, stale_after=stale_after)
    now = time.time()
    report.consuming = {q: (now - t if t is not None else None) for q, t in beats.items()}
    return report
