"""Per-partner caps in Redis: in flight and per second, atomic together, and the shared set
of slow partners. Lease expiry and the slow mark's lapse are moved by hand (a fake clock,
or the stored expiry), never waited for."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from syndicator.partners import throttle as throttle_module
from syndicator.partners.throttle import Lease, Refusal, SlowPartners, Throttle
from tests.unit.clock import FakeClock


def run(redis_url: str, scenario: Callable[[Redis], Awaitable[None]]) -> None:
    async def main() -> None:
        client = Redis.from_url(redis_url)
        try:
            await scenario(client)
        finally:
            await client.aclose()

    asyncio.run(main())


def test_no_limits_grant_everything_and_hold_nothing(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        throttle = Throttle(client, lease_seconds=30)
        leases = [await throttle.acquire(7, None, None) for _ in range(50)]
        assert all(isinstance(lease, Lease) and lease.lease_id is None for lease in leases)
        assert await client.keys("syndicator:webhooks:*") == []

    run(redis_url, scenario)


def test_the_cap_refuses_until_a_lease_is_given_back(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        throttle = Throttle(client, lease_seconds=30)
        first, second = [await throttle.acquire(1, 2, None) for _ in range(2)]
        assert isinstance(first, Lease) and isinstance(second, Lease)
        refused = await throttle.acquire(1, 2, None)
        assert isinstance(refused, Refusal) and refused.reason == "partner_cap"
        assert 0 < refused.wait_seconds <= 30  # until the oldest lease would lapse
        assert isinstance(await throttle.acquire(2, 2, None), Lease)  # partners are apart
        await throttle.release(first)
        assert isinstance(await throttle.acquire(1, 2, None), Lease)

    run(redis_url, scenario)


def test_a_dead_workers_lease_lapses(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        throttle = Throttle(client, lease_seconds=30)
        lease = await throttle.acquire(1, 1, None)
        assert isinstance(lease, Lease) and lease.lease_id
        assert isinstance(await throttle.acquire(1, 1, None), Refusal)
        # The worker died without releasing: its lease's expiry passes (moved, not waited).
        await client.zadd("syndicator:webhooks:inflight:1", {lease.lease_id: 0})
        assert isinstance(await throttle.acquire(1, 1, None), Lease)

    run(redis_url, scenario)


def test_the_rate_allows_one_seconds_burst_then_refuses(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        throttle = Throttle(client, lease_seconds=30)
        # A second's worth (5) goes at once, however slowly the machine asks.
        burst = [await throttle.acquire(3, None, 5.0) for _ in range(5)]
        assert all(isinstance(r, Lease) for r in burst)
        # One a second, no burst beyond it: the next waits up to a second.
        assert isinstance(await throttle.acquire(5, None, 1.0), Lease)
        refused = await throttle.acquire(5, None, 1.0)
        assert isinstance(refused, Refusal) and refused.reason == "rate_limit"
        assert 0 < refused.wait_seconds <= 1.0

    run(redis_url, scenario)


def test_a_refusal_by_the_rate_spends_no_slot(redis_url: str) -> None:
    async def scenario(client: Redis) -> None:
        throttle = Throttle(client, lease_seconds=30)
        assert isinstance(await throttle.acquire(4, 5, 1.0), Lease)
        refused = await throttle.acquire(4, 5, 1.0)
        assert isinstance(refused, Refusal) and refused.reason == "rate_limit"
        assert await client.zcard("syndicator:webhooks:inflight:4") == 1

    run(redis_url, scenario)


def test_a_slow_mark_reaches_other_workers_and_lapses(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(client: Redis) -> None:
        clock = FakeClock()
        monkeypatch.setattr(throttle_module, "time", clock)
        here = SlowPartners(client, hold_seconds=60, refresh_seconds=0.5)
        there = SlowPartners(client, hold_seconds=60, refresh_seconds=0.5)
        assert await there.current() == set()
        await here.mark(9)
        assert await here.current() == {9}
        assert await there.current() == set()  # read half a second ago: not yet read again
        clock.advance(0.5)
        assert await there.current() == {9}
        clock.advance(60)
        assert await there.current() == set()  # the mark lapsed
        await here.mark(9)
        await here.clear(9)
        clock.advance(0.5)
        assert await there.current() == set() and await here.current() == set()

    run(redis_url, scenario)
