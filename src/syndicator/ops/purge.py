"""Emptying a broker queue: its Redis list and its priority lists, in one transaction.

Nothing durable is lost. The ledger and the outbox hold the work, not the broker: the
sweeper enqueues every due delivery again (fresh rows after 30 s), and the relay sends
again an outbox row relayed but never planned.

The audit row is written and flushed before the broker is touched, and committed after
it: a database that refuses the row stops the purge, and a purge that fails leaves no row.
"""

from __future__ import annotations

import redis

from syndicator.channels.registry import ALL_QUEUES
from syndicator.ops.readings import PRIORITY_SUFFIXES
from syndicator.store.audit import write_audit
from syndicator.store.db import Database

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


def purge_queue(db: Database, client: redis.Redis, who: str, queue: str) -> int:
    """Delete the queue's messages, audited; returns how many there were. Messages a
    worker holds (unacked) are left alone: their tasks finish or come back."""
    keys = _keys(queue)
    with db.session() as session:
        entry = write_audit(session, who, "purge", f"queue:{queue}", "purging")
        removed = _purge(client, keys)
        entry.detail = f"{removed} messages"
    return removed


def _purge(client: redis.Redis, keys: list[str]) -> int:
    pipe = client.pipeline(transaction=True)
    for key in keys:
        pipe.llen(key)
    pipe.delete(*keys)
    results = pipe.execute()
    return int(sum(results[: len(keys)]))
