"""What operators ask first: how deep are the queues, what waits, what failed."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from syndicator.queues import ALL_QUEUES
from syndicator.signals import consuming_queues
from syndicator.store.db import Database
from syndicator.store.ledger import counts_by_status
from syndicator.store.outbox import awaiting_fanout, backlog

__all__ = ["SystemStatus", "collect_status", "queue_depths"]

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


def collect_status(db: Database, client: redis.Redis) -> SystemStatus:
    count, oldest = backlog(db)
    awaiting = awaiting_fanout(db)
    with db.session() as session:
        counts = counts_by_status(session)
    deliveries: dict[str, dict[str, int]] = {}
    for (channel, status), n in sorted(counts.items()):
        deliveries.setdefault(channel, {})[status] = n
    try:
        depths, unacked = queue_depths(client)
        beats = consuming_queues(client)
        now = time.time()
        consuming = {q: (now - t if t is not None else None) for q, t in beats.items()}
        return SystemStatus(depths, unacked, consuming, count, oldest, awaiting, deliveries)
    except redis.RedisError as exc:
        return SystemStatus(
            None, None, {}, count, oldest, awaiting, deliveries, redis_error=str(exc)
        )
