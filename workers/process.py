"""Per-process resources for tasks, created after the prefork fork, never shared across it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx
import redis

from syndicator.channels.base import Channel, ChannelContext
from syndicator.channels.registry import build_channels
from syndicator.config import Settings, load_settings
from syndicator.runtime.redis_urls import redis_client
from syndicator.store.db import Database

__all__ = ["Runtime", "runtime"]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis
    http: httpx.Client
    channels: dict[str, Channel]


_current: tuple[int, Runtime] | None = None


def _build(settings: Settings) -> Runtime:
    db = Database(settings.database_url)
    # Partners and hubs get a bounded wait; redirects are failures, never followed.
    http = httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0), follow_redirects=False)
    ctx = ChannelContext(settings=settings, db=db, http=http)
    return Runtime(settings, db, redis_client(settings), http, build_channels(ctx))


def runtime() -> Runtime:
    global _current
    if _current is None or _current[0] != os.getpid():
        _current = (os.getpid(), _build(load_settings()))
    return _current[1]
