"""The coalescer's lock lives seconds, not a task time limit, and is renewed while held."""

from __future__ import annotations

import time

import redis

from syndicator.delivery.coalescer import LOCK_TTL, Coalescer
from tests.system import wait_for


def test_the_lock_is_short_and_renewed_while_its_holder_works(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    coalescer = Coalescer(client, "test", min_interval=0, lock_seconds=0.6)
    observed: list[int] = []

    def run() -> None:
        # Outlive the TTL several times over; the renewer must keep resetting it.
        def renewed_twice() -> bool:
            observed.append(int(client.pttl(coalescer.lock_key)))
            return len(observed) > 3 and observed[-1] > observed[-2]

        wait_for(renewed_twice, seconds=30, what="the lock's TTL to be reset")
        assert all(ttl > 0 for ttl in observed), observed  # never expired meanwhile

    coalescer.request(run, lambda: True)
    assert client.exists(coalescer.lock_key) == 0  # released
    assert LOCK_TTL <= 15  # a dead holder blocks the next run for seconds
    client.close()


def test_a_lock_left_by_a_dead_worker_frees_itself(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    coalescer = Coalescer(client, "test", min_interval=0, lock_seconds=0.5)
    dead = client.lock(coalescer.lock_key, timeout=0.5)  # taken, never renewed nor released
    assert dead.acquire(blocking=False)
    ran: list[bool] = []
    again = coalescer.request(lambda: ran.append(True), lambda: True)
    assert ran == []  # somebody holds the lock: nothing ran yet
    # The caller is told to ask again when the lock would expire: the holder may be dead.
    assert again is not None and 0 < again <= 0.5 + 0.5
    assert coalescer.request(lambda: ran.append(True), lambda: True) is None  # one re-check
    wait_for(lambda: client.exists(coalescer.lock_key) == 0, seconds=30, what="expiry")
    coalescer.request(lambda: ran.append(True), lambda: True)
    assert ran == [True]
    client.close()


def test_a_burst_is_spaced_without_a_worker_waiting_it_out(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    coalescer = Coalescer(client, "spaced", min_interval=2.0)
    runs: list[float] = []
    assert coalescer.request(lambda: runs.append(time.monotonic()), lambda: True) is None
    again = coalescer.request(lambda: runs.append(time.monotonic()), lambda: True)
    # The second request comes back at once: asked to call again when the spacing ends,
    # the lock free meanwhile, and the request kept (the flag stays raised).
    assert len(runs) == 1 and again is not None and 0 < again <= 2.0
    assert client.exists(coalescer.lock_key) == 0 and client.exists(coalescer.dirty_key) == 1
    # More requests meanwhile schedule no second call; they fold into the one due.
    assert coalescer.request(lambda: runs.append(time.monotonic()), lambda: True) is None
    time.sleep(again)
    assert coalescer.request(lambda: runs.append(time.monotonic()), lambda: True) is None
    assert len(runs) == 2 and runs[1] - runs[0] >= 2.0 - 0.05
    assert client.exists(coalescer.dirty_key) == 0
    client.close()
