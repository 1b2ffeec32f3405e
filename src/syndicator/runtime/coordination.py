"""Redis keys the web app and the workers use to signal each other without Celery.

Liveness is proved, never assumed: a queue counts as consumed only when a heartbeat task
a worker took off that queue ran (a live PID proves nothing after a Redis restart), and
that task also says whether the worker reaches the database. Workers send those tasks
themselves, so stopping beat does not make them look dead; beat has a heartbeat of its own.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from syndicator.channels.registry import ALL_QUEUES

__all__ = [
    "BEAT_KEY",
    "CONSUMER_WINDOW",
    "HEARTBEAT_TTL",
    "OUTBOX_NUDGE_KEY",
    "QueueHeartbeat",
    "beat_seen",
    "consumers_seen",
    "consuming_queues",
    "mark_beat",
    "mark_consuming",
    "nudge_relay",
    "queue_heartbeats",
]

OUTBOX_NUDGE_KEY = "syndicator:outbox:nudge"
BEAT_KEY = "syndicator:beat:alive"
# The defaults of Settings.queue_proof_ttl and .consumer_window (a heartbeat every 10 s);
# the processes pass their configured ones.
HEARTBEAT_TTL = 45.0
CONSUMER_WINDOW = 60.0
_HEARTBEAT = "syndicator:consuming:{queue}"
_CONSUMERS = "syndicator:consumers:{queue}"


@dataclass(frozen=True)
class QueueHeartbeat:
    at: float  # unix time the heartbeat task ran
    database: str  # "ok", or the error the worker got reaching it
    worker: str = ""


def nudge_relay(client: redis.Redis) -> None:
    """Wake the relay now instead of at its next poll; losing a nudge only adds latency."""
    client.lpush(OUTBOX_NUDGE_KEY, "1")


def mark_consuming(
    client: redis.Redis,
    queue: str,
    database: str = "ok",
    worker: str = "",
    *,
    ttl: float = HEARTBEAT_TTL,
    window: float = CONSUMER_WINDOW,
) -> None:
    """Called from a task a worker actually took off ``queue``: proof of consumption, good
    for ``ttl`` seconds; the worker is counted for ``window`` seconds."""
    now = time.time()
    value = json.dumps({"at": now, "database": database, "worker": worker})
    consumers = _CONSUMERS.format(queue=queue)
    pipe = client.pipeline(transaction=False)
    pipe.set(_HEARTBEAT.format(queue=queue), value, px=int(ttl * 1000))
    # Every worker's last proof, so /metrics can count them (the key above keeps one).
    pipe.zadd(consumers, {worker or "unnamed": now})
    pipe.zremrangebyscore(consumers, "-inf", now - window)
    pipe.expire(consumers, int(window * 2) + 1)
    pipe.execute()


def consumers_seen(client: redis.Redis, within: float = CONSUMER_WINDOW) -> dict[str, int]:
    """How many workers proved they consume each queue in the last ``within`` seconds."""
    since = time.time() - within
    pipe = client.pipeline(transaction=False)
    for queue in ALL_QUEUES:
        pipe.zcount(_CONSUMERS.format(queue=queue), since, "+inf")
    return {q: int(n) for q, n in zip(ALL_QUEUES, pipe.execute(), strict=True)}


def _parse(value: bytes | str | None) -> QueueHeartbeat | None:
    if value is None:
        return None
    try:
        data = json.loads(value)
    except ValueError:  # written by an older version: a bare timestamp
        return QueueHeartbeat(float(value), "ok")
    return QueueHeartbeat(float(data["at"]), str(data["database"]), str(data.get("worker", "")))


def queue_heartbeats(client: redis.Redis) -> dict[str, QueueHeartbeat | None]:
    values = client.mget([_HEARTBEAT.format(queue=q) for q in ALL_QUEUES])
    return {q: _parse(v) for q, v in zip(ALL_QUEUES, values, strict=True)}


def consuming_queues(client: redis.Redis) -> dict[str, float | None]:
    """When each queue last proved a consumer (unix time), or None."""
    return {q: (h.at if h else None) for q, h in queue_heartbeats(client).items()}


def mark_beat(client: redis.Redis, ttl: float = HEARTBEAT_TTL) -> None:
    client.set(BEAT_KEY, str(time.time()), px=int(ttl * 1000))


def beat_seen(client: redis.Redis) -> float | None:
    value = client.get(BEAT_KEY)
    return float(value) if value is not None else None
