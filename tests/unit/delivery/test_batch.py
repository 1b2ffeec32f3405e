"""The concurrent batch with fake channels on a real database: its named state, flushes
off the event loop, top-up on a fake clock, and no outcome lost or written twice."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import ClassVar

import pytest

from syndicator.channels.base import BatchContext, Deadline, DeliveryOutcome
from syndicator.delivery import batch as batch_module
from syndicator.delivery.batch import TOP_UP_SECONDS, ConcurrentBatch
from syndicator.delivery.recorder import FLUSH_ROWS, Recorder
from syndicator.delivery.runner import Enqueue, plan_event
from syndicator.delivery.unstarted import Unstarted
from syndicator.ledger.claims import Claimed, claim, claim_due, release
from syndicator.store.db import Database
from tests.unit.delivery.fakes import Partners, an_event, attempt_outcomes, statuses


class Watched(Partners):
    """Partners that note the batch's state each time a row starts."""

    concurrency: ClassVar[int] = 20
    group_limit: ClassVar[int] = 5
    batch_size: ClassVar[int] = 40

    def __init__(self, count: int, groups: int) -> None:
        super().__init__(count, groups, seconds=0)
        self.batch: ConcurrentBatch | None = None
        self.seen: list[tuple[int, int]] = []  # (held, in_flight)
        self.loop_thread = threading.get_ident()

    async def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        assert self.batch is not None
        self.seen.append((self.batch.held, self.batch.in_flight))
        return await super().deliver(job, batch)


class ThreadNoting(Recorder):
    """A real recorder that notes which thread each commit ran on."""

    def __init__(self, db: Database, channel: Partners) -> None:
        super().__init__(db, channel, "scheduled")
        self.threads: list[int] = []
        self.committing = threading.Event()
        self.gate: threading.Event | None = None  # held shut: commits wait for it

    def commit(self, entries, also=None):  # type: ignore[no-untyped-def]
        self.threads.append(threading.get_ident())
        self.committing.set()
        if self.gate is not None:
            assert self.gate.wait(60), "the gate was never opened"
        super().commit(entries, also)


@pytest.fixture
def planned(db: Database) -> Callable[[Partners], list[Claimed]]:
    def plan(channel: Partners) -> list[Claimed]:
        sent: list[Enqueue] = []
        plan_event(db, {channel.name: channel}, an_event(db), sent.append)
        ids = [i for item in sent for i in item.delivery_ids]
        with db.session() as session:
            return claim(session, ids)

    return plan


def hand_back(db: Database, jobs: Sequence[Claimed]) -> None:
    """Back to pending, for a top-up to claim."""
    with db.session() as session:
        release(session, jobs[0].token, [job.delivery_id for job in jobs])


def run(
    channel: Partners,
    jobs: Sequence[Claimed],
    recorder: Recorder,
    claim_more: batch_module.ClaimMore | None = None,
    clock: Callable[[], float] | None = None,
    seconds: float = 600,
) -> tuple[ConcurrentBatch, Unstarted]:
    unstarted = Unstarted(jobs)
    context = BatchContext(Deadline.after(seconds))

    async def go() -> ConcurrentBatch:
        kwargs = {"clock": clock} if clock else {}
        batch = ConcurrentBatch(channel, context, recorder, unstarted, claim_more, **kwargs)
        if isinstance(channel, Watched):
            channel.batch = batch
        await batch.run(jobs)
        return batch

    return asyncio.run(go()), unstarted


def test_the_batch_names_what_it_holds_and_what_is_in_flight(
    db: Database, planned: Callable[[Partners], list[Claimed]]
):
    channel = Watched(count=100, groups=50)
    jobs = planned(channel)
    recorder = ThreadNoting(db, channel)
    batch, unstarted = run(channel, jobs, recorder)
    recorder.flush()  # what the runner does once the batch ends
    assert len(channel.seen) == 100
    assert all(1 <= in_flight <= Watched.concurrency for _, in_flight in channel.seen)
    assert all(in_flight <= held <= 100 for held, in_flight in channel.seen)
    assert channel.seen[0][0] == 100  # every row held from the start
    assert (batch.held, batch.in_flight, batch.topping_up, batch.done) == (0, 0, False, True)
    assert len(unstarted) == 0 and statuses(db) == {("succeeded", 1): 100}


def test_flushes_run_off_the_event_loop_and_claims_on_it(
    db: Database, planned: Callable[[Partners], list[Claimed]]
):
    channel = Watched(count=3 * FLUSH_ROWS, groups=100)
    jobs = planned(channel)
    claimer_threads: list[int] = []

    def claim_more(n: int) -> list[Claimed]:
        claimer_threads.append(threading.get_ident())
        with db.session() as session:
            return claim_due(session, channel.name, n, None)

    hand_back(db, jobs[FLUSH_ROWS:])
    recorder = ThreadNoting(db, channel)
    run(channel, jobs[:FLUSH_ROWS], recorder, claim_more)
    recorder.flush()
    assert recorder.threads and claimer_threads
    assert channel.loop_thread not in recorder.threads[:-1]  # the last is the runner's
    assert set(claimer_threads) == {channel.loop_thread}  # short, and never GIL-bound
    assert statuses(db) == {("succeeded", 1): 3 * FLUSH_ROWS}
    assert attempt_outcomes(db) == {"succeeded": 3 * FLUSH_ROWS}


class Gated(Watched):
    """Each row after the first flush waits for the loop's permission: rows go on while a
    commit is held shut."""

    def __init__(self, count: int, groups: int, recorder_gate: threading.Event) -> None:
        super().__init__(count, groups)
        self.recorder_gate = recorder_gate
        self.delivered_during_commit = 0
        self.committing = threading.Event()

    async def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        if self.committing.is_set() and not self.recorder_gate.is_set():
            self.delivered_during_commit += 1
            if self.delivered_during_commit == 10:
                self.recorder_gate.set()  # ten rows done meanwhile: let the commit end
        return await super().deliver(job, batch)


def test_rows_go_on_while_a_flush_commits(
    db: Database, planned: Callable[[Partners], list[Claimed]]
):
    gate = threading.Event()
    channel = Gated(count=2 * FLUSH_ROWS, groups=100, recorder_gate=gate)
    jobs = planned(channel)

    class Noting(ThreadNoting):
        def commit(self, entries, also=None):  # type: ignore[no-untyped-def]
            channel.committing.set()
            super().commit(entries, also)

    recorder = Noting(db, channel)
    recorder.gate = gate
    run(channel, jobs, recorder)
    recorder.gate = None
    recorder.flush()
    # The loop was never blocked by the commit: ten rows finished while it waited.
    assert channel.delivered_during_commit >= 10
    assert statuses(db) == {("succeeded", 1): 2 * FLUSH_ROWS}


def test_a_failed_flush_puts_its_outcomes_back_and_fails_the_batch(
    db: Database, planned: Callable[[Partners], list[Claimed]]
):
    channel = Watched(count=FLUSH_ROWS + 20, groups=100)
    jobs = planned(channel)

    class Failing(ThreadNoting):
        def commit(self, entries, also=None):  # type: ignore[no-untyped-def]
            if entries:
                raise RuntimeError("database away")

    recorder = Failing(db, channel)
    with pytest.raises(ExceptionGroup) as raised:
        run(channel, jobs, recorder)
    assert raised.group_contains(RuntimeError)
    # Nothing committed, nothing dropped: every finished row is still buffered, once.
    entries = recorder.take()
    ids = [entry[2].delivery_id for entry in entries]
    assert len(ids) == len(set(ids)) == len(channel.delivered)


def test_a_cancelled_batch_waits_for_its_commit_and_writes_nothing_twice(
    db: Database, planned: Callable[[Partners], list[Claimed]]
):
    channel = Watched(count=FLUSH_ROWS, groups=100)
    channel.hang = {f"g{n}" for n in range(50, 100)}  # half the partners never answer
    jobs = planned(channel)
    gate = threading.Event()
    recorder = ThreadNoting(db, channel)
    recorder.gate = gate
    unstarted = Unstarted(jobs)

    async def go() -> None:
        batch = ConcurrentBatch(channel, BatchContext(Deadline.after(600)), recorder, unstarted)
        channel.batch = batch
        running = asyncio.create_task(batch.run(jobs))
        # The poll's flush of the first 50 starts committing, and is held there.
        await asyncio.to_thread(recorder.committing.wait)
        running.cancel()  # a worker stopping, mid-commit
        await asyncio.sleep(0)
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(go())
    # Only the cancelled rows are left to record: the committed ones were not put back.
    left = recorder.take()
    assert len(left) == Watched.concurrency
    assert {entry[1].error_class for entry in left} == {"E_CANCELLED"}  # type: ignore[union-attr]
    recorder.restore(left)
    recorder.gate = None
    recorder.flush()  # the cancelled rows, as the runner records them
    # Every row once: 50 delivered (committed by the held flush), the rows in flight
    # cancelled (an attempt spent), the rest never started and left to hand back.
    assert attempt_outcomes(db) == {"succeeded": 50, "retrying": Watched.concurrency}
    assert len(unstarted) == 50 - Watched.concurrency


def test_top_up_ends_when_its_window_passes_on_the_batch_clock(
    db: Database, planned: Callable[[Partners], list[Claimed]], monkeypatch: pytest.MonkeyPatch
):
    channel = Watched(count=200, groups=200)
    jobs = planned(channel)
    hand_back(db, jobs[20:])
    now = [0.0]
    claims: list[int] = []

    def claim_more(n: int) -> list[Claimed]:
        claims.append(n)
        now[0] += TOP_UP_SECONDS  # the window closes while this claim runs
        with db.session() as session:
            return claim_due(session, channel.name, n, None)

    recorder = ThreadNoting(db, channel)
    batch, _ = run(channel, jobs[:20], recorder, claim_more, clock=lambda: now[0])
    recorder.flush()
    low = max(Watched.concurrency, Watched.batch_size // 2)
    assert claims == [low + Watched.batch_size // 4 - 20]  # once: then the window closed
    assert len(channel.delivered) == 20 + claims[0]
    assert not batch.topping_up and batch.done
