"""Tokens already seen, shared by every web process through Redis: a captured Mailgun call
sent again within its timestamp's tolerance is refused, not recorded twice."""

from __future__ import annotations

import hashlib

import redis

__all__ = ["first_use"]

_PREFIX = "syndicator:bounce-hook-token:"


def first_use(client: redis.Redis, provider: str, token: str, keep_seconds: int) -> bool:
    """True the first time ``token`` is seen for ``provider`` within ``keep_seconds``."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return bool(client.set(f"{_PREFIX}{provider}:{digest}", 1, nx=True, ex=keep_seconds))
