"""Redis keys the web app and the workers use to signal each other without Celery."""

from __future__ import annotations

import time

import redis

from syndicator.channels.registry import ALL_QUEUES

__all__ = [
    "HEARTBEAT_TTL",
    "OUTBOX_NUDGE_KEY",
    "consuming_queues",
    "mark_consuming",
    "nudge_relay",
]

OUTBOX_NUDGE_KEY = "syndicator:outbox:nudge"
HEARTBEAT_TTL = 45
_HEARTBEAT = "syndicator:consuming:{queue}"


def nudge_relay(client: redis.Redis) -> None:
    """Wake the relay now instead of at its next poll; losing a nudge only adds latency."""
    client.lpush(OUTBOX_NUDGE_KEY, "1")


def mark_consuming(client: redis.Redis, queue: str) -> None:
    """Called from a task a worker actually took off ``queue``: proof of consumption."""
    client.set(_HEARTBEAT.format(queue=queue), str(time.time()), ex=HEARTBEAT_TTL)


def consuming_queues(client: redis.Redis) -> dict[str, float | None]:
    values = client.mget([_HEARTBEAT.format(queue=q) for q in ALL_QUEUES])
    return {
        q: (float(v) if v is not None else None) for q, v in zip(ALL_QUEUES, values, strict=True)
    }
