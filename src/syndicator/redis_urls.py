"""Redis connection URLs for the two clients that need them: redis-py and kombu."""

from __future__ import annotations

import redis

from syndicator.config import Settings

__all__ = ["broker_url", "redis_client", "redis_url"]


def redis_url(settings: Settings) -> str:
    """The configured Redis, or the embedded one's Unix socket."""
    return settings.redis_url or f"unix://{settings.embedded_redis_socket}"


def broker_url(settings: Settings) -> str:
    url = redis_url(settings)
    # kombu spells a Unix socket differently from redis-py.
    if url.startswith("unix://"):
        return "redis+socket://" + url.removeprefix("unix://")
    return url


def redis_client(settings: Settings, timeout: float = 5.0) -> redis.Redis:
    return redis.Redis.from_url(
        redis_url(settings), socket_timeout=timeout, socket_connect_timeout=timeout
    )
