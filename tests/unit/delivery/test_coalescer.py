"""The coalescer folds a burst of requests into few runs, one holder at a time, on a fake
clock: no test here waits for real time to pass (Redis is real)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from syndicator.delivery import coalescer as coalescer_module
from syndicator.delivery.coalescer import SPACING_CAP, Coalescer
from tests.unit.clock import FakeClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(coalescer_module, "time", fake)
    return fake


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_a_lone_request_runs_at_once_and_leaves_nothing_behind(
    client: redis.Redis, clock: FakeClock
) -> None:
    coalescer = Coalescer(client, "lone", min_interval=5.0)
    runs: list[float] = []
    assert coalescer.request(lambda: runs.append(clock.now), lambda: True) is None
    assert runs == [clock.now]
    assert not client.exists(coalescer.dirty_key, coalescer.lock_key)


def test_a_request_with_no_work_runs_nothing(client: redis.Redis, clock: FakeClock) -> None:
    coalescer = Coalescer(client, "idle", min_interval=0)
    runs: list[int] = []
    assert coalescer.request(lambda: runs.append(1), lambda: False) is None
    assert runs == [] and not client.exists(coalescer.dirty_key)


def test_requests_during_a_run_fold_into_one_more_run(
    client: redis.Redis, clock: FakeClock
) -> None:
    coalescer = Coalescer(client, "fold", min_interval=0)
    runs: list[int] = []

    def run() -> None:
        runs.append(len(runs))
        if len(runs) == 1:  # three requests arrive while the first run works
            for _ in range(3):
                client.set(coalescer.dirty_key, "1")

    assert coalescer.request(run, lambda: True) is None
    assert runs == [0, 1]


def test_a_burst_is_spaced_by_the_clock_not_by_waiting(
    client: redis.Redis, clock: FakeClock
) -> None:
    coalescer = Coalescer(client, "spaced", min_interval=2.0)
    runs: list[float] = []
    coalescer.request(lambda: runs.append(clock.now), lambda: True)
    clock.advance(0.5)
    again = coalescer.request(lambda: runs.append(clock.now), lambda: True)
    # Asked to come back when the spacing ends; the request is kept, the lock is free.
    assert again == pytest.approx(1.5) and len(runs) == 1
    assert client.exists(coalescer.dirty_key) and not client.exists(coalescer.lock_key)
    # Another request meanwhile folds into the call already due.
    assert coalescer.request(lambda: runs.append(clock.now), lambda: True) is None
    clock.advance(1.5)
    assert coalescer.request(lambda: runs.append(clock.now), lambda: True) is None
    assert len(runs) == 2 and runs[1] - runs[0] == pytest.approx(2.0)


def test_in_a_burst_a_long_run_waits_as_long_as_it_took(
    client: redis.Redis, clock: FakeClock
) -> None:
    coalescer = Coalescer(client, "slow", min_interval=0.25)
    runs: list[float] = []

    def run() -> None:  # a render that takes 2 s while requests keep coming
        runs.append(clock.now)
        clock.advance(2.0)

    assert coalescer.request(run, lambda: True) is None
    again = coalescer.request(run, lambda: True)
    # The process is handed back for as long as the run took, not just min_interval.
    assert again == pytest.approx(2.0) and len(runs) == 1
    assert client.exists(coalescer.dirty_key) and not client.exists(coalescer.lock_key)
    clock.advance(2.0)
    assert coalescer.request(run, lambda: True) is None
    assert len(runs) == 2 and runs[1] - runs[0] == pytest.approx(4.0)


def test_a_run_longer_than_the_cap_leaves_no_spacing(client: redis.Redis, clock: FakeClock) -> None:
    coalescer = Coalescer(client, "cap", min_interval=0.25)
    runs: list[float] = []

    def run() -> None:
        runs.append(clock.now)
        clock.advance(SPACING_CAP + 1)

    coalescer.request(run, lambda: True)
    assert coalescer.request(run, lambda: True) is None
    assert len(runs) == 2


def test_a_busy_holder_gets_one_recheck_when_its_lock_would_lapse(
    client: redis.Redis, clock: FakeClock
) -> None:
    coalescer = Coalescer(client, "held", min_interval=0, lock_seconds=10)
    held = client.lock(coalescer.lock_key, timeout=10)
    assert held.acquire(blocking=False)
    runs: list[int] = []
    again = coalescer.request(lambda: runs.append(1), lambda: True)
    assert again is not None and 10 < again <= 10.5  # the lock's life, and a margin
    assert coalescer.request(lambda: runs.append(1), lambda: True) is None  # one at a time
    held.release()
    client.delete(coalescer.recheck_key)  # the re-check's time has come
    assert coalescer.request(lambda: runs.append(1), lambda: True) is None
    assert runs == [1]


def test_a_holder_past_its_budget_hands_the_rest_back(
    client: redis.Redis, clock: FakeClock
) -> None:
    coalescer = Coalescer(client, "budget", min_interval=0, budget_seconds=60)
    runs: list[int] = []

    def run() -> None:  # each run takes 40 s and another request arrives meanwhile
        runs.append(1)
        clock.advance(40)
        client.set(coalescer.dirty_key, "1")

    assert coalescer.request(run, lambda: True) == 0.0  # call again at once, elsewhere
    assert runs == [1, 1] and client.exists(coalescer.dirty_key)
