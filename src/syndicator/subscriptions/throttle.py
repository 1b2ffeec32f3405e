"""Rate limits on subscribe requests, shared by every web process through Redis.

Each request mails the address it names, so the limits are what stand between a bored
stranger and a resident's inbox: a few per mailbox (``address_key``: ``name+1@`` and
``name+2@`` are one inbox), a few more per client, and a cap per mail domain, since a
catch-all domain delivers every local part to one inbox.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis
from limits import RateLimitItem, parse, parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["ADDRESS_LIMITS", "CLIENT_LIMITS", "Refused", "SubscribeThrottle", "domain_limits"]

# Mails one address can be sent through the form; the confirmation is valid 72 h anyway.
ADDRESS_LIMITS: tuple[RateLimitItem, ...] = (parse("3/hour"), parse("6/day"))
# Requests one client may make, whatever addresses they name.
CLIENT_LIMITS: tuple[RateLimitItem, ...] = (parse("5/minute"), parse("30/hour"))


def domain_limits(spec: str) -> tuple[RateLimitItem, ...]:
    """``SYNDICATOR_SUBSCRIBE_DOMAIN_LIMITS`` ("60/hour;300/day"); ValueError naming it."""
    try:
        return tuple(parse_many(spec))
    except ValueError as exc:
        raise ValueError(f"SYNDICATOR_SUBSCRIBE_DOMAIN_LIMITS={spec!r}: {exc}") from exc


@dataclass(frozen=True)
class Refused:
    scope: str  # client | address | domain
    retry_after: int  # whole seconds, at least 1


class SubscribeThrottle:
    def __init__(self, client: redis.Redis, per_domain: tuple[RateLimitItem, ...]) -> None:
        self.per_domain = per_domain
        # The app's own connection pool: no second set of connections per process.
        storage = RedisStorage(
            "redis://", connection_pool=client.connection_pool, key_prefix="syndicator:limits"
        )
        self.limiter = MovingWindowRateLimiter(storage)

    def hit(self, address_key: str, client_ip: str, domain: str) -> Refused | None:
        """Count one request; how long to wait if any limit is used up, else None."""
        for scope, items, identity in (
            ("client", CLIENT_LIMITS, client_ip),
            ("address", ADDRESS_LIMITS, address_key),
            ("domain", self.per_domain, domain),
        ):
            for limit in items:
                if not self.limiter.hit(limit, "subscribe", scope, identity):
                    return Refused(scope, self._wait(limit, scope, identity))
        return None

    def _wait(self, limit: RateLimitItem, scope: str, identity: str) -> int:
        stats = self.limiter.get_window_stats(limit, "subscribe", scope, identity)
        return max(1, math.ceil(stats.reset_time - time.time()))
