"""Redis connection URLs for the two clients that need them: redis-py and kombu."""

from __future__ import annotations

from urllib.parse import parse_qs

import redis

from syndicator.config import Settings

__all__ = ["broker_url", "redis_client", "redis_url"]


def redis_url(settings: Settings) -> str:
    """The configured Redis, or the embedded one's Unix socket."""
    return settings.redis_url or f"unix://{settings.embedded_redis_socket}"


def broker_url(settings: Settings) -> str:
    url = redis_url(settings)
    if not url.startswith("unix://"):
        return url
    # kombu spells a Unix socket differently from redis-py, and reads the database
    # number from ``virtual_host`` (a ``db`` query would be overwritten with 0).
    path, _, query = url.removeprefix("unix://").partition("?")
    db = parse_qs(query).get("db", ["0"])[0]
    return f"redis+socket://{path}?virtual_host={db}"


def redis_client(settings: Settings, timeout: float = 5.0) -> redis.Redis:
    return redis.Redis.from_url(
        redis_url(settings), socket_timeout=timeout, socket_connect_timeout=timeout
    )
