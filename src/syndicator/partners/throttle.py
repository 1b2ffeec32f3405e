"""Per-partner caps shared by every worker process, kept in Redis.

Two limits, checked in one Lua script so they are atomic together (a row refused by one
spends nothing of the other):

- requests in flight (``max_in_flight``): a sorted set of leases scored by expiry. A
  lease outlives the longest request (the total timeout plus a margin), so a worker
  killed mid-request frees its slot when the lease expires, not never.
- requests per second (``rate_limit_per_s``): GCRA (the generic cell rate algorithm), one
  timestamp per partner, bursts of up to one second's worth.

And one set, :class:`SlowPartners`: partners some worker has waited on for longer than a
few seconds. A slow partner gets one request at a time (a lease with a cap of 1), so a
partner that hangs holds one worker batch, not every worker's. A partner with no limits
of its own that is not slow costs no Redis round trip at all: each worker reads the set
at most twice a second.

Times come from the Redis server's clock, the one clock every worker shares.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

__all__ = ["Lease", "Refusal", "SlowPartners", "Throttle"]

_PREFIX = "syndicator:webhooks"
_SLOW_KEY = f"{_PREFIX}:slow"

# KEYS: in-flight zset, GCRA timestamp. ARGV: lease id, cap (0 = none), lease ms, rate
# interval ms (0 = none), burst tolerance ms.
# Returns {1, 0} when granted, {0, wait ms, reason} when not.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[2])
local interval = tonumber(ARGV[4])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= cap then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, math.max(1, tonumber(first[2]) - now), 'partner_cap'}
  end
end
local tat = now
if interval > 0 then
  tat = math.max(tonumber(redis.call('GET', KEYS[2]) or now), now)
  local allowed_at = tat - tonumber(ARGV[5])
  if allowed_at > now then
    return {0, allowed_at - now, 'rate_limit'}
  end
  redis.call('SET', KEYS[2], tat + interval, 'PX', tonumber(ARGV[5]) + 2 * interval + 1000)
end
if cap > 0 then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
end
return {1, 0}
"""


@dataclass(frozen=True)
class Lease:
    partner_id: int
    lease_id: str | None  # None: no in-flight cap, nothing to give back


@dataclass(frozen=True)
class Refusal:
    wait_seconds: float
    reason: str  # partner_cap | partner_slow | rate_limit


class Throttle:
    """Acquire before sending to a partner, release when its answer (or error) is in."""

    def __init__(self, redis: Redis, lease_seconds: float) -> None:
        self.redis = redis
        self.lease_ms = int(lease_seconds * 1000)
        self._script = redis.register_script(_ACQUIRE)

    async def acquire(
        self, partner_id: int, max_in_flight: int | None, rate_per_s: float | None
    ) -> Lease | Refusal:
        cap = max(0, max_in_flight or 0)
        interval_ms = int(1000 / rate_per_s) if rate_per_s and rate_per_s > 0 else 0
        # Bursts up to one second's worth of requests (at least one).
        tolerance_ms = max(0, 1000 - interval_ms) if interval_ms else 0
        lease_id = uuid.uuid4().hex
        granted, wait_ms, *reason = await self._script(
            keys=[_inflight_key(partner_id), _rate_key(partner_id)],
            args=[lease_id, cap, self.lease_ms, interval_ms, tolerance_ms],
        )
        if int(granted):
            return Lease(partner_id, lease_id if cap else None)
        why = reason[0].decode() if isinstance(reason[0], bytes) else str(reason[0])
        return Refusal(int(wait_ms) / 1000, why)

    async def release(self, lease: Lease) -> None:
        if lease.lease_id is not None:
            await self.redis.zrem(_inflight_key(lease.partner_id), lease.lease_id)


class SlowPartners:
    """Partners a worker has waited on too long, shared by every worker: a sorted set of
    partner ids scored by when the mark lapses (Unix ms)."""

    def __init__(self, redis: Redis, hold_seconds: float, refresh_seconds: float = 0.5) -> None:
        self.redis = redis
        self.hold_seconds = hold_seconds
        self.refresh_seconds = refresh_seconds
        self._known: set[int] = set()
        self._read_at = -refresh_seconds  # monotonic
        self._reading: asyncio.Future[None] | None = None

    async def current(self) -> set[int]:
        """The slow partners, read again at most every ``refresh_seconds``; the rows
        starting meanwhile share one read rather than each sending its own."""
        if time.monotonic() - self._read_at >= self.refresh_seconds:
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read())
                self._reading.add_done_callback(self._read_done)
            await asyncio.shield(self._reading)
        return self._known

    async def _read(self) -> None:
        now_ms = time.time() * 1000
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(_SLOW_KEY, "-inf", now_ms)
            pipe.zrange(_SLOW_KEY, 0, -1)
            _, members = await pipe.execute()
        self._known = {int(m) for m in members}
        self._read_at = time.monotonic()

    def _read_done(self, _: asyncio.Future[None]) -> None:
        self._reading = None

    async def mark(self, partner_id: int) -> None:
        lapses = time.time() * 1000 + self.hold_seconds * 1000
        await self.redis.zadd(_SLOW_KEY, {str(partner_id): lapses})
        self._known.add(partner_id)

    async def clear(self, partner_id: int) -> None:
        await self.redis.zrem(_SLOW_KEY, str(partner_id))
        self._known.discard(partner_id)


def _inflight_key(partner_id: int) -> str:
    return f"{_PREFIX}:inflight:{partner_id}"


def _rate_key(partner_id: int) -> str:
    return f"{_PREFIX}:rate:{partner_id}"
