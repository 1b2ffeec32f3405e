"""Async batches: rows run concurrently under their caps and are recorded as they end; a
batch past its deadline starts nothing; a topped-up batch delivers what it claimed; the
process loop outlives a batch and closes with its channels."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from syndicator.channels.base import AsyncChannel, BatchContext, Deadline, SyncChannel
from syndicator.delivery import aio
from syndicator.delivery.aio import close_channels, deliver_concurrently
from syndicator.delivery.recorder import Recorder
from syndicator.delivery.runner import Enqueue, plan_event
from syndicator.delivery.unstarted import Unstarted
from syndicator.ledger.claims import Claimed, claim
from syndicator.store.db import Database
from tests.unit.delivery.fakes import Partners, an_event, statuses


def _claimed(db: Database, channel: Partners) -> list[Claimed]:
    sent: list[Enqueue] = []
    plan_event(db, {channel.name: channel}, an_event(db), sent.append)
    with db.session() as session:
        return claim(session, [i for item in sent for i in item.delivery_ids])


def _deliver(
    db: Database,
    channel: Partners,
    jobs: Sequence[Claimed],
    batch: BatchContext,
    claim_more: aio.ClaimMore | None = None,
) -> Unstarted:
    recorder = Recorder(db, channel, "scheduled")
    unstarted = Unstarted(jobs)
    aio.run(deliver_concurrently(channel, jobs, batch, recorder, unstarted, claim_more))
    recorder.flush()
    return unstarted


def test_every_row_is_delivered_and_recorded_under_the_caps(db: Database) -> None:
    channel = Partners(count=60, groups=4)
    jobs = _claimed(db, channel)
    unstarted = _deliver(db, channel, jobs, BatchContext(Deadline.after(60)))
    assert len(unstarted) == 0 and statuses(db) == {("succeeded", 1): 60}
    assert channel.most_per_group <= Partners.group_limit
    assert channel.most_overall <= Partners.concurrency


def test_a_batch_past_its_deadline_starts_nothing(db: Database) -> None:
    channel = Partners(count=5, groups=5)
    jobs = _claimed(db, channel)
    unstarted = _deliver(db, channel, jobs, BatchContext(Deadline.after(0)))
    assert channel.delivered == [] and len(unstarted) == 5
    assert statuses(db) == {("in_progress", 1): 5}  # the caller hands them back


def test_a_topped_up_batch_delivers_what_it_claimed_too(db: Database) -> None:
    channel = Partners(count=10, groups=5)
    jobs = _claimed(db, channel)
    first, more = jobs[:2], list(jobs[2:])
    unstarted = Unstarted(first)

    def claim_more(n: int) -> Sequence[Claimed]:
        taken, more[:] = more[:n], more[n:]
        unstarted.add(taken)
        return taken

    recorder = Recorder(db, channel, "scheduled")
    batch = BatchContext(Deadline.after(aio.TOP_UP_MARGIN + 60))
    aio.run(deliver_concurrently(channel, first, batch, recorder, unstarted, claim_more))
    recorder.flush()
    assert sorted(channel.delivered) == sorted(job.target for job in jobs)
    assert statuses(db) == {("succeeded", 1): 10}


class Closing(SyncChannel):
    name = "closing"
    queue = "events"

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.closed = False

    def close(self) -> None:
        self.closed = True
        if self.fail:
            raise OSError("already gone")


class AsyncClosing(AsyncChannel):
    name = "async-closing"
    queue = "webhooks"

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        self.loop = asyncio.get_running_loop()


def test_every_channel_is_closed_even_after_one_fails() -> None:
    aio.run(asyncio.sleep(0))  # a batch ran: the process has its loop
    loop_of_batches = aio._process_loop()
    failing, fine, async_one = Closing(fail=True), Closing(fail=False), AsyncClosing()
    close_channels([failing, async_one, fine])
    assert failing.closed and fine.closed
    assert async_one.loop is loop_of_batches  # closed on the loop that opened it
    assert loop_of_batches.is_closed() and aio._loop is None


def test_an_interrupted_run_cancels_its_batch() -> None:
    cancelled = asyncio.Event()

    async def batch() -> None:
        try:
            asyncio.get_running_loop().call_soon(_interrupt)
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(KeyboardInterrupt):
        aio.run(batch())
    assert cancelled.is_set()


def _interrupt() -> None:
    raise KeyboardInterrupt  # a signal arriving while the loop runs
