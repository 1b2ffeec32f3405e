"""Every Redis client syndicator makes, made here: redis-py's (sync and asyncio), kombu's
broker URL and options, and RedBeat's, for one Redis at a URL or a master through Sentinel.

Through Sentinel, a client asks the sentinels where the master is each time it connects,
so after a failover it reaches the new master by itself. A command caught in flight by the
failover still raises ``ConnectionError`` (redis-py retries it ten times within about
five seconds first); callers treat it as Redis being away for a moment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

from syndicator.config import Settings, redact_url

__all__ = [
    "BEAT_LOCK_KEY",
    "REDBEAT_KEY_PREFIX",
    "async_redis_client",
    "broker_transport_options",
    "broker_url",
    "redbeat_settings",
    "redis_client",
    "redis_place",
    "redis_url",
]

# How long a sentinel may take to say where the master is.
SENTINEL_TIMEOUT = 2.0
# RedBeat's keys: its entries, ``…::schedule`` and the active beat's lock.
REDBEAT_KEY_PREFIX = "syndicator:redbeat:"
BEAT_LOCK_KEY = f"{REDBEAT_KEY_PREFIX}:lock"


def redis_url(settings: Settings) -> str:
    """The configured Redis, or the embedded one's Unix socket (not for Sentinel)."""
    return settings.redis_url or f"unix://{settings.embedded_redis_socket}"


def redis_place(settings: Settings) -> str:
    """Where Redis is, as a log line or a banner may show it (no password)."""
    if settings.redis_sentinels:
        return (
            f"master {settings.redis_sentinel_master!r} through Sentinel {_sentinel_list(settings)}"
        )
    return redact_url(redis_url(settings))


def _sentinel_list(settings: Settings) -> str:
    return ",".join(_host_port(host, port) for host, port in settings.redis_sentinels)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _sentinel_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "socket_timeout": SENTINEL_TIMEOUT,
        "socket_connect_timeout": SENTINEL_TIMEOUT,
    }
    if settings.redis_sentinel_password:
        kwargs["password"] = settings.redis_sentinel_password
    return kwargs


class _Master(redis.Redis):
    """The master through Sentinel; closing it closes its connections to the sentinels."""

    sentinel_manager: redis.sentinel.Sentinel | None = None

    def close(self) -> None:
        super().close()
        for client in self.sentinel_manager.sentinels if self.sentinel_manager else ():
            client.close()


class _AsyncMaster(redis.asyncio.Redis):
    """The asyncio twin of :class:`_Master`."""

    sentinel_manager: redis.asyncio.sentinel.Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        for client in self.sentinel_manager.sentinels if self.sentinel_manager else ():
            await client.aclose()


def redis_client(settings: Settings, timeout: float = 5.0) -> redis.Redis:
    """A client of the Redis every process shares: at ``SYNDICATOR_REDIS_URL`` (or the
    embedded one), or the current master through Sentinel."""
    if settings.redis_sentinels:
        sentinel = redis.sentinel.Sentinel(
            list(settings.redis_sentinels),
            sentinel_kwargs=_sentinel_kwargs(settings),
            password=settings.redis_password,
        )
        client: _Master = sentinel.master_for(
            settings.redis_sentinel_master,
            redis_class=_Master,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        client.sentinel_manager = sentinel
        return client
    return redis.Redis.from_url(
        redis_url(settings), socket_timeout=timeout, socket_connect_timeout=timeout
    )


def async_redis_client(
    settings: Settings, timeout: float | None = 5.0, connect_timeout: float = 5.0
) -> redis.asyncio.Redis:
    """The asyncio twin of :func:`redis_client`; ``timeout=None`` for a client that waits
    on a subscription."""
    if settings.redis_sentinels:
        sentinel = redis.asyncio.sentinel.Sentinel(
            list(settings.redis_sentinels),
            sentinel_kwargs=_sentinel_kwargs(settings),
            password=settings.redis_password,
        )
        client: _AsyncMaster = sentinel.master_for(
            settings.redis_sentinel_master,
            redis_class=_AsyncMaster,
            socket_timeout=timeout,
            socket_connect_timeout=connect_timeout,
        )
        client.sentinel_manager = sentinel
        return client
    return redis.asyncio.Redis.from_url(
        redis_url(settings), socket_timeout=timeout, socket_connect_timeout=connect_timeout
    )


def broker_url(settings: Settings) -> str:
    if settings.redis_sentinels:
        # kombu's Sentinel transport: one sentinel:// URL per sentinel, joined by ';'. The
        # password in the first is the master's; the sentinels' is in the options below.
        auth = f":{quote(settings.redis_password, safe='')}@" if settings.redis_password else ""
        return ";".join(
            f"sentinel://{auth}{_host_port(host, port)}/0"
            for host, port in settings.redis_sentinels
        )
    url = redis_url(settings)
    if not url.startswith("unix://"):
        return url
    # kombu spells a Unix socket differently from redis-py, and reads the database
    # number from ``virtual_host`` (a ``db`` query would be overwritten with 0).
    path, _, query = url.removeprefix("unix://").partition("?")
    db = parse_qs(query).get("db", ["0"])[0]
    return f"redis+socket://{path}?virtual_host={db}"


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """What kombu needs beside :func:`broker_url` to find the master (nothing without
    Sentinel). The result backend, were one used, takes the same URL and options."""
    if not settings.redis_sentinels:
        return {}
    return {
        "master_name": settings.redis_sentinel_master,
        "sentinel_kwargs": _sentinel_kwargs(settings),
    }


def redbeat_settings(settings: Settings, timeout: float = 5.0) -> dict[str, Any]:
    """Celery settings pointing RedBeat (workers/scheduler.py) at the same Redis, through
    Sentinel too: ``app.conf.update(redbeat_settings(settings))``. Its options are always
    given, so RedBeat never falls back to the broker's transport options.

    No ``retry_period``: RedBeat would retry a schedule read for that long inside one tick,
    after renewing its lock, and could send what is due after the lock expired. The
    scheduler pauses on a connection error instead and tries again at its next tick."""
    common = {"redbeat_key_prefix": REDBEAT_KEY_PREFIX, "redbeat_lock_key": BEAT_LOCK_KEY}
    if not settings.redis_sentinels:
        return {
            **common,
            "redbeat_redis_url": redis_url(settings),
            "redbeat_redis_options": {
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
            },
        }
    return {
        **common,
        # RedBeat reads only the scheme; the sentinels are in the options.
        "redbeat_redis_url": f"redis-sentinel://{_host_port(*settings.redis_sentinels[0])}/0",
        "redbeat_redis_options": {
            "sentinels": list(settings.redis_sentinels),
            "service_name": settings.redis_sentinel_master,
            "password": settings.redis_password,
            "socket_timeout": timeout,
            "sentinel_kwargs": _sentinel_kwargs(settings),
        },
    }
