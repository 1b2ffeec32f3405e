"""Per-process resources for tasks, created after the prefork fork, never shared across it.

Channels live as long as their process: each opens its connections (SMTP, HTTP clients)
lazily on first use, and ``close_runtime`` releases them when the process exits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import redis

from syndicator.channels.base import Channel, ChannelContext
from syndicator.channels.registry import build_channels
from syndicator.config import Settings
from syndicator.delivery.aio import close_channels
from syndicator.delivery.settlements import settle_kept
from syndicator.runtime.liveness import LivenessBeat, ProcessIdentity
from syndicator.runtime.redis_urls import async_redis_client, redis_client
from syndicator.store.db import Database
from workers.settings import settings

__all__ = ["Runtime", "close_runtime", "heard_for", "runtime", "worker_id"]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis
    channels: dict[str, Channel]


_current: tuple[int, Runtime] | None = None
_liveness: tuple[int, LivenessBeat] | None = None


def _build(settings: Settings) -> Runtime:
    db = Database(settings.database_url)
    client = redis_client(settings)
    ctx = ChannelContext(
        settings=settings,
        db=db,
        redis=client,
        async_redis=lambda: async_redis_client(settings, timeout=5, connect_timeout=5),
    )
    return Runtime(settings, db, client, build_channels(ctx))


def runtime() -> Runtime:
    global _current
    if _current is None or _current[0] != os.getpid():
        _current = (os.getpid(), _build(settings))
    return _current[1]


def worker_id() -> str:
    """The id this process's claims carry: on first use, the process registers itself and
    starts writing its heartbeat (runtime/liveness.py), before it claims anything."""
    global _liveness
    if _liveness is None or _liveness[0] != os.getpid():
        rt = runtime()
        beat = LivenessBeat(
            rt.db,
            ProcessIdentity.current(),
            rt.settings.worker_heartbeat_seconds,
            on_heard=settle_kept,  # what an outage kept from a batch, once the database is back
        )
        beat.register()
        beat.start()
        _liveness = (os.getpid(), beat)
    return _liveness[1].identity.id


def heard_for() -> float:
    """How long this process's own heartbeats have all got through (0: never, or failing)."""
    if _liveness is None or _liveness[0] != os.getpid():
        return 0.0
    return _liveness[1].heard_for()


def close_runtime() -> None:
    """Close what this process opened (nothing if it never ran a task)."""
    global _current, _liveness
    if _liveness is not None and _liveness[0] == os.getpid():
        settle_kept()  # best effort: what stays unsettled is released as a lost worker's
        _liveness[1].stop()  # its batches handed their rows back: it holds nothing
        _liveness = None
    if _current is None or _current[0] != os.getpid():
        return
    rt = _current[1]
    _current = None
    close_channels(rt.channels.values())
    rt.redis.close()
    rt.db.dispose()
