"""Emptying a broker queue: its Redis list and its priority lists, in one transaction.

Nothing durable is lost. The ledger and the outbox hold the work, not the broker: the
sweeper enqueues every due delivery again (fresh rows after 30 s), and the relay sends
again an outbox row relayed but never planned.
"""

from __future__ import annotations

import redis

from syndicator.channels.registry import ALL_QUEUES
from syndicator.ops.readings import PRIORITY_SUFFIXES

__all__ = ["UnknownQueue", "purge_queue", "queue_depth"]


class UnknownQueue(ValueError):
    def __init__(self, queue: str) -> None:
        super().__init__(f"no queue {queue!r}: one of {', '.join(ALL_QUEUES)}")


def _keys(queue: str) -> list[str]:
    if queue not in ALL_QUEUES:
        raise UnknownQueue(queue)
    return [queue + suffix for suffix in PRIORITY_SUFFIXES]


def queue_depth(client: redis.Redis, queue: str) -> int:
    pipe = client.pipeline(transaction=False)
    for key in _keys(queue):
        pipe.llen(key)
    return int(sum(pipe.execute()))


def purge_queue(client: redis.Redis, queue: str) -> int:
    """Delete the queue's messages; returns how many there were. Messages a worker holds
    (unacked) are left alone: their tasks finish or come back."""
    pipe = client.pipeline(transaction=True)
    keys = _keys(queue)
    for key in keys:
        pipe.llen(key)
    pipe.delete(*keys)
    results = pipe.execute()
    return int(sum(results[: len(keys)]))
