"""Readiness, told truthfully: what the web tier needs, and what the pipeline needs.

``web_problems`` is for load balancers: the database at the code's schema revision, and
Redis. ``pipeline_causes`` is for operators and alerts: a live consumer that reaches the
database on every queue, a running beat, and an outbox that is not falling behind. Each
cause is one sentence naming what is wrong.
"""

from __future__ import annotations

import redis

from syndicator.runtime.coordination import beat_seen, queue_heartbeats
from syndicator.runtime.preflight import Problem, check_database, check_redis
from syndicator.store.db import Database
from syndicator.store.outbox import backlog

__all__ = ["OUTBOX_STALE_SECONDS", "pipeline_causes", "web_problems"]

# An event waiting longer than this in the outbox means the relay or the broker is stuck.
OUTBOX_STALE_SECONDS = 60.0


def web_problems(db: Database, client: redis.Redis) -> list[Problem]:
    return [p for p in (check_database(db), check_redis(client)) if p is not None]


def pipeline_causes(db: Database, client: redis.Redis) -> list[str]:
    causes: list[str] = []
    try:
        beats = queue_heartbeats(client)
        beat = beat_seen(client)
    except redis.RedisError as exc:
        return [f"cannot reach Redis: {exc}"]
    for queue, heartbeat in beats.items():
        if heartbeat is None:
            causes.append(f"no worker has consumed the {queue} queue in the last minute")
        elif heartbeat.database != "ok":
            causes.append(
                f"workers on the {queue} queue cannot reach the database: {heartbeat.database}"
            )
    if beat is None:
        causes.append("beat is not running: the outbox is not relayed and retries are not swept")
    try:
        waiting, oldest = backlog(db)
    except Exception as exc:
        causes.append(f"cannot read the outbox: {type(exc).__name__}")
    else:
        if oldest is not None and oldest > OUTBOX_STALE_SECONDS:
            causes.append(f"{waiting} event(s) wait in the outbox, the oldest for {oldest:.0f} s")
    return causes
