"""Whether the mail server is turning mail away right now, told through Redis.

A worker that meets a server-wide refusal (421, or no connection) says so under one
key that lives :data:`DEFERRAL_TTL` seconds; one that gets mail through clears the key it
set. Readiness reads it, so operators see "the mail server defers mail" while it lasts,
not only a growing backlog. Losing the signal (Redis away) only loses the report.
"""

from __future__ import annotations

import contextlib
import time

import redis

__all__ = ["DEFERRAL_KEY", "DEFERRAL_TTL", "DeferralSignal", "mail_deferred"]

DEFERRAL_KEY = "syndicator:mail:deferred"
# Longer than the gap between two attempts of a busy worker; short enough that a recovered
# server stops being reported soon after its last refusal.
DEFERRAL_TTL = 30
# A worker writes the key at most this often: a 421 storm is one write a second, not one
# per message.
_MARK_EVERY = 1.0


class DeferralSignal:
    """One worker process's side of the signal."""

    def __init__(self, client: redis.Redis | None) -> None:
        self.client = client
        self._marked_at: float | None = None

    def refused(self, reply: str) -> None:
        now = time.monotonic()
        if self.client is None or (
            self._marked_at is not None and now - self._marked_at < _MARK_EVERY
        ):
            return
        self._marked_at = now
        with contextlib.suppress(redis.RedisError):
            self.client.set(DEFERRAL_KEY, reply[:300], ex=DEFERRAL_TTL)

    def accepted(self) -> None:
        if self.client is None or self._marked_at is None:
            return
        self._marked_at = None
        with contextlib.suppress(redis.RedisError):
            self.client.delete(DEFERRAL_KEY)


def mail_deferred(client: redis.Redis) -> str | None:
    """The last temporary refusal, while the mail server keeps refusing; else None."""
    value = client.get(DEFERRAL_KEY)
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
