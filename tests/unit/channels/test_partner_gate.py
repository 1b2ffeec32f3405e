"""The partner gate on a fake clock: admissions, deferrals, slow partners, no sleeping."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from syndicator.channels.base import Deadline
from syndicator.channels.http_outcomes import HttpOutcome, classify
from syndicator.channels.partner_gate import (
    CAPS_RETRY_SECONDS,
    INLINE_WAIT_SECONDS,
    Deferral,
    PartnerGate,
    PartnerLease,
)
from syndicator.config import Settings, load_settings
from syndicator.partners.directory import PartnerSnapshot
from syndicator.partners.throttle import Lease, Refusal

START = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
SLOW_AFTER = 3.0
LATER = Deadline.after(3600)


class FakeClock:
    """Time moves only when a test (or a sleep) says so; timers fire as it passes them."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []
        self._timers: list[tuple[float, int, FakeTimer]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)

    def sleep(self, seconds: float) -> Awaitable[None]:
        self.slept.append(seconds)
        self.advance(seconds)
        return asyncio.sleep(0)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(callback)
        heapq.heappush(self._timers, (self.t + seconds, next(self._order), timer))
        return timer

    def advance(self, seconds: float) -> None:
        self.t += seconds
        while self._timers and self._timers[0][0] <= self.t:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()


class FakeTimer:
    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeCaps:
    """In-memory caps on the fake clock: slots in flight, and one request per interval."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.in_flight: Counter[int] = Counter()
        self.next_token: dict[int, float] = {}
        self.calls = 0
        self.down = False

    async def acquire(
        self, partner_id: int, max_in_flight: int | None, rate_per_s: float | None
    ) -> Lease | Refusal:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("redis away")
        if max_in_flight and self.in_flight[partner_id] >= max_in_flight:
            return Refusal(7.0, "partner_cap")
        if rate_per_s:
            due = self.next_token.get(partner_id, self.clock.t)
            if due > self.clock.t:
                return Refusal(due - self.clock.t, "rate_limit")
            self.next_token[partner_id] = max(due, self.clock.t) + 1 / rate_per_s
        if max_in_flight:
            self.in_flight[partner_id] += 1
            return Lease(partner_id, f"lease-{self.calls}")
        return Lease(partner_id, None)

    async def release(self, lease: Lease) -> None:
        if self.down:
            raise RedisConnectionError("redis away")
        self.in_flight[lease.partner_id] -= 1


class FakeSlow:
    def __init__(self) -> None:
        self.partners: set[int] = set()
        self.marks = 0

    async def current(self) -> set[int]:
        return self.partners

    async def mark(self, partner_id: int) -> None:
        self.marks += 1
        self.partners.add(partner_id)

    async def clear(self, partner_id: int) -> None:
        self.partners.discard(partner_id)


class Rig:
    def __init__(self, settings: Settings) -> None:
        self.clock = FakeClock()
        self.caps = FakeCaps(self.clock)
        self.slow = FakeSlow()
        self.connected = 0
        self.gate = PartnerGate(self._connect, SLOW_AFTER, settings, self.clock)

    def _connect(self) -> tuple[FakeCaps, FakeSlow]:
        self.connected += 1
        return self.caps, self.slow


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path)}))


def partner(
    max_in_flight: int | None = None, rate: float | None = None, pid: int = 7
) -> PartnerSnapshot:
    return PartnerSnapshot(
        pid, "p", "https://p.example/", "active", None, {}, max_in_flight, rate, ("k",)
    )


def run(work: Callable[[], Awaitable[object]]) -> object:
    async def go() -> object:
        return await work()

    return asyncio.run(go())


ANSWERED = classify(200, {})
TIMED_OUT = HttpOutcome(False, True, "timeout", "no answer within 15 s")


def test_a_partner_without_limits_is_admitted_without_asking_the_caps(rig: Rig):
    admitted = run(lambda: rig.gate.admit(partner(), LATER))
    assert isinstance(admitted, PartnerLease) and admitted.lease.lease_id is None
    assert rig.caps.calls == 0 and rig.connected == 1  # connected once, lazily


def test_a_partner_at_its_cap_is_deferred_until_a_slot_is_likely_free(rig: Rig):

    async def scenario() -> tuple[object, object]:
        first = await rig.gate.admit(partner(max_in_flight=1), LATER)
        second = await rig.gate.admit(partner(max_in_flight=1), LATER)
        return first, second

    first, second = run(scenario)
    assert isinstance(first, PartnerLease)
    # A slot frees when a request ends: back within 2 s, not the 7 s the lease has left.
    assert second == Deferral(START + timedelta(seconds=2), "partner_cap")
    assert rig.clock.slept == []


def test_observing_gives_the_slot_back(rig: Rig):

    async def scenario() -> object:
        first = await rig.gate.admit(partner(max_in_flight=1), LATER)
        assert isinstance(first, PartnerLease)
        await rig.gate.observe(first, ANSWERED)
        return await rig.gate.admit(partner(max_in_flight=1), LATER)

    assert isinstance(run(scenario), PartnerLease)
    assert rig.caps.in_flight[7] == 1


def test_a_rate_limit_waits_inline_for_a_near_token_without_real_sleep(rig: Rig):

    async def scenario() -> list[object]:
        return [await rig.gate.admit(partner(rate=2.0), LATER) for _ in range(3)]

    admitted = run(scenario)
    assert all(isinstance(a, PartnerLease) for a in admitted)
    assert rig.clock.slept == [0.5, 0.5]  # on the fake clock: the test took no time


def test_a_rate_limit_token_too_far_away_defers_the_row_until_it(rig: Rig):

    async def scenario() -> list[object]:
        return [await rig.gate.admit(partner(rate=0.1), LATER) for _ in range(2)]

    first, second = run(scenario)
    assert isinstance(first, PartnerLease)
    assert second == Deferral(START + timedelta(seconds=10), "rate_limit")
    assert rig.clock.slept == [] and INLINE_WAIT_SECONDS < 10


def test_no_inline_wait_past_the_batch_deadline(rig: Rig):
    soon = Deadline.after(1.2)  # less than the wait plus a second

    async def scenario() -> list[object]:
        return [await rig.gate.admit(partner(rate=2.0), soon) for _ in range(2)]

    _, second = run(scenario)
    assert second == Deferral(START + timedelta(seconds=0.5), "rate_limit")


def test_a_partner_unanswered_past_slow_after_is_marked_until_it_answers(rig: Rig):

    async def scenario() -> None:
        admitted = await rig.gate.admit(partner(), LATER)
        assert isinstance(admitted, PartnerLease)
        rig.clock.advance(SLOW_AFTER - 0.1)
        await asyncio.sleep(0)
        assert rig.slow.partners == set()
        rig.clock.advance(0.1)
        await asyncio.sleep(0)  # the mark is written in the background
        assert rig.slow.partners == {7} and admitted.marked_slow
        # Slow: one request at a time, its second row deferred as a slow partner's.
        held = await rig.gate.admit(partner(), LATER)
        refused = await rig.gate.admit(partner(), LATER)
        assert isinstance(held, PartnerLease)
        assert refused == Deferral(START + timedelta(seconds=SLOW_AFTER + 2), "partner_slow")
        await rig.gate.observe(admitted, ANSWERED)  # it answered after all
        assert rig.slow.partners == set()
        await rig.gate.aclose()

    run(scenario)


def test_a_timeout_keeps_the_slow_mark_and_a_fast_answer_never_earns_one(rig: Rig):

    async def scenario() -> None:
        fast = await rig.gate.admit(partner(pid=1), LATER)
        hanging = await rig.gate.admit(partner(pid=2), LATER)
        assert isinstance(fast, PartnerLease) and isinstance(hanging, PartnerLease)
        await rig.gate.observe(fast, ANSWERED)
        rig.clock.advance(60)
        await asyncio.sleep(0)
        await rig.gate.observe(hanging, TIMED_OUT)
        await rig.gate.aclose()

    run(scenario)
    assert rig.slow.partners == {2} and rig.slow.marks == 1


def test_a_cancelled_request_gives_its_slot_back_and_clears_nothing(rig: Rig):

    async def scenario() -> None:
        admitted = await rig.gate.admit(partner(max_in_flight=1), LATER)
        assert isinstance(admitted, PartnerLease)
        rig.clock.advance(SLOW_AFTER)
        await asyncio.sleep(0)
        await rig.gate.observe(admitted, None)
        await rig.gate.aclose()

    run(scenario)
    assert rig.caps.in_flight[7] == 0 and rig.slow.partners == {7}


def test_caps_that_do_not_answer_defer_the_row_and_a_lost_release_is_survived(rig: Rig):

    async def scenario() -> tuple[object, object]:
        admitted = await rig.gate.admit(partner(max_in_flight=2), LATER)
        rig.caps.down = True
        assert isinstance(admitted, PartnerLease)
        await rig.gate.observe(admitted, ANSWERED)  # logged; the lease expires by itself
        return admitted, await rig.gate.admit(partner(max_in_flight=2), LATER)

    _, deferred = run(scenario)
    assert deferred == Deferral(START + timedelta(seconds=CAPS_RETRY_SECONDS), "caps_unavailable")


@pytest.mark.parametrize("limits", [(None, None), (1, None), (None, 5.0), (3, 5.0)])
def test_every_admission_is_given_back_once(rig: Rig, limits: tuple[int | None, float | None]):
    cap, rate = limits

    async def scenario() -> None:
        for _ in range(20):
            admitted = await rig.gate.admit(partner(cap, rate), LATER)
            if isinstance(admitted, PartnerLease):
                await rig.gate.observe(admitted, ANSWERED)
            rig.clock.advance(0.25)
        await rig.gate.aclose()

    run(scenario)
    assert rig.caps.in_flight[7] == 0 and rig.slow.partners == set()
