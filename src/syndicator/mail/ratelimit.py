"""A global send rate shared by every worker process through Redis (``limits``).

Each process takes permits in small blocks (a twentieth of a second's worth), so the
shared counter costs one Redis round trip per block, not per message.
"""

from __future__ import annotations

import math
import time

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

__all__ = ["SharedRate"]

KEY = "syndicator:mail"


class SharedRate:
    def __init__(self, client: redis.Redis, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("SYNDICATOR_MAIL_RATE_PER_S must be positive")
        if per_second >= 1:
            self.item = RateLimitItemPerSecond(int(per_second), 1)
        else:  # 0.5/s is one message every 2 s
            self.item = RateLimitItemPerSecond(1, math.ceil(1 / per_second))
        self.block = max(1, int(per_second // 20))
        storage = RedisStorage("redis://", connection_pool=client.connection_pool)
        self.limiter = FixedWindowRateLimiter(storage)
        self._permits = 0

    def acquire(self, wait_at_most: float) -> bool:
        """Take one permit, waiting up to ``wait_at_most`` seconds; False if none came."""
        if self._permits:
            self._permits -= 1
            return True
        give_up = time.monotonic() + wait_at_most
        while True:
            for cost in dict.fromkeys((self.block, 1)):
                if self.limiter.hit(self.item, KEY, cost=cost):
                    self._permits = cost - 1
                    return True
            reset = self.limiter.get_window_stats(self.item, KEY).reset_time
            pause = max(0.01, min(reset - time.time(), 1.0))
            if time.monotonic() + pause > give_up:
                return False
            time.sleep(pause)
