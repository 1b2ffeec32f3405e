"""How long this process surely still holds a lock it renews in Redis.

The lock expires in Redis a fixed time after each renewal reached it. Counted from just
before the renewal was sent, on this machine's monotonic clock, that time can only end
earlier here than there; a margin keeps one more step (a message sent to the broker)
inside it. While the lease is held, no other process can hold the lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["MARGIN_SHARE", "RENEW_SHARE", "Lease"]

# The holder renews its lock at least this often, as a share of the lock's timeout: three
# renewals in a row can fail (Redis away for a moment) before the lock expires.
RENEW_SHARE = 0.25
# The lease ends this share of the timeout before the lock could expire: room for the step
# in flight and for two machines' clocks running at slightly different rates.
MARGIN_SHARE = 0.25


class Lease:
    """Renewed by the thread that renews the lock, read by any other thread."""

    def __init__(
        self, seconds: float, margin: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not 0 <= margin < seconds:
            raise ValueError(f"a lease margin must be below its length: {margin} ≥ {seconds}")
        self.seconds = seconds
        self.margin = margin
        self._clock = clock
        self._until = -math.inf
        self._guard = threading.Lock()

    def renewed(self, sent_at: float) -> None:
        """The lock was renewed (or taken) by a command sent at ``sent_at`` (this clock)."""
        with self._guard:
            self._until = max(self._until, sent_at + self.seconds - self.margin)

    def lost(self) -> None:
        with self._guard:
            self._until = -math.inf

    def held(self) -> bool:
        return self._clock() < self._until

    def now(self) -> float:
        return self._clock()
