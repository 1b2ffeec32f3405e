"""When a failed delivery is tried again: the channel's schedule per target, with jitter,
never sooner than the receiver's Retry-After (clamped)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from syndicator.channels.base import MAX_RETRY_AFTER_SECONDS

__all__ = ["JITTER", "next_attempt_at"]

# ±20 %: a partner that was down for everyone is not hit by a herd on its return.
JITTER = 0.2


def next_attempt_at(
    delays: Sequence[float], attempt: int, now: datetime, retry_after: float | None = None
) -> datetime | None:
    """When to try again after failed attempt number ``attempt``; None when exhausted."""
    if attempt > len(delays):
        return None
    delay = delays[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS))
    return now + timedelta(seconds=delay)
