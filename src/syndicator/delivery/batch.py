"""One async channel's batch: rows run concurrently under caps, recorded as they end.

The batch's state has names: ``held`` (rows claimed and not finished: waiting for a slot
or in flight), ``in_flight`` (rows being delivered) and ``topping_up`` (it may still claim
more). It is done when it holds nothing and no longer tops up. Rows start in order within
their caps: at most ``concurrency`` in flight and ``group_limit`` per group. A row waiting
for its group holds no global slot, so a slow partner never starves the others.

The recorder's flushes run in a thread (one at a time), so rows in flight are not paused
by a commit. A flush once started is always waited for, even when the batch is cancelled:
its outcomes are then committed or back in the buffer, never lost or written twice.
Top-up claims stay on the loop (see ``_top_up``): one short statement per quarter batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from syndicator.channels.base import AsyncChannel, BatchContext, DeliveryOutcome
from syndicator.delivery.recorder import Recorder, failure
from syndicator.delivery.unstarted import Unstarted
from syndicator.ledger.claims import Claimed
from syndicator.logs import kv
from syndicator.store.models import utcnow

__all__ = ["FLUSH_POLL_SECONDS", "TOP_UP_MARGIN", "TOP_UP_SECONDS", "ClaimMore", "ConcurrentBatch"]

log = logging.getLogger("syndicator.delivery")

T = TypeVar("T")

# How often the recorder is asked whether a flush is due, between rows completing.
FLUSH_POLL_SECONDS = 0.1
# How long a batch keeps topping itself up with due rows: long enough that a fan-out
# flows without gaps, short enough that a fan-out or another queue's task waiting for
# this process is not held up for long.
TOP_UP_SECONDS = 15.0
# No top-up this close to the batch deadline: rows claimed then would only be handed back.
TOP_UP_MARGIN = 30.0

# Claims up to n more due rows of the batch's channel (the batch adds them to its
# ``unstarted``).
ClaimMore = Callable[[int], Sequence[Claimed]]


class ConcurrentBatch:
    """Deliver rows concurrently until done or the deadline; record each as it ends.

    Rows not started by the deadline stay in ``unstarted`` (the caller hands them back);
    rows in flight at the deadline are cancelled and recorded as retryable.

    With ``claim_more``, the batch tops itself up: whenever the rows it holds fall to
    what keeps every slot busy (``concurrency``, or half a batch when that is more), it
    claims a quarter batch more of the channel's due rows (rows that queued tasks were
    about to bring, or retries now due), for up to :data:`TOP_UP_SECONDS`. The process
    then keeps its slots full instead of idling while its last answers arrive and between
    tasks; the tasks whose rows it took find them claimed and end at once.
    """

    def __init__(
        self,
        channel: AsyncChannel,
        batch: BatchContext,
        recorder: Recorder,
        unstarted: Unstarted,
        claim_more: ClaimMore | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel, self.batch, self.recorder, self.unstarted = (
            channel,
            batch,
            recorder,
            unstarted,
        )
        self.claim_more = claim_more
        self.clock = clock
        self.held = 0
        self.in_flight = 0
        self.topping_up = claim_more is not None
        self._slots = asyncio.Semaphore(channel.concurrency)
        self._groups: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(channel.group_limit)
        )
        self._done = asyncio.Event()
        self._room = asyncio.Event()  # a row finished: the top-up may claim more
        self._flushing: asyncio.Task[None] | None = None
        self._threads: set[asyncio.Future[Any]] = set()
        self._rows: asyncio.TaskGroup | None = None

    @property
    def done(self) -> bool:
        return not self.held and not self.topping_up

    async def run(self, jobs: Sequence[Claimed]) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                async with (
                    asyncio.timeout(self.batch.deadline.remaining()),
                    asyncio.TaskGroup() as rows,
                ):
                    self._rows = rows
                    self._hold(jobs)
                    self._check_done()
                    rows.create_task(self._flush_while_running())
                    if self.claim_more is not None:
                        rows.create_task(self._top_up(self.claim_more))
        finally:
            self._rows = None
            await self._threads_finished()

    # --- rows -----------------------------------------------------------------------

    def _hold(self, jobs: Sequence[Claimed]) -> None:
        assert self._rows is not None
        self.held += len(jobs)
        for job in jobs:
            self._rows.create_task(self._deliver(job))

    async def _deliver(self, job: Claimed) -> None:
        try:
            # The group first: a row waiting for its partner holds no global slot.
            async with self._groups[self.channel.group(job.target)], self._slots:
                if not self.batch.deadline.passed():
                    self.unstarted.start(job.delivery_id)
                    self.in_flight += 1
                    try:
                        await _attempt(self.channel, job, self.batch, self.recorder)
                    finally:
                        self.in_flight -= 1
                    self._flush_if_due()
        finally:
            self.held -= 1
            self._room.set()
            self._check_done()

    def _check_done(self) -> None:
        if self.done:
            self._done.set()

    # --- recording ------------------------------------------------------------------

    def _flush_if_due(self) -> None:
        """Start a flush in a thread when one is due and none is running."""
        if self._flushing is None and self._rows is not None and self.recorder.due():
            self._flushing = self._rows.create_task(self._flush())

    async def _flush(self) -> None:
        entries = self.recorder.take()
        commit = self._thread(self.recorder.commit, entries)

        def failed(done: asyncio.Future[None]) -> None:
            # On the loop, whether or not this task was cancelled meanwhile: what did
            # not commit goes back to the buffer, what did is never written twice.
            if done.cancelled() or done.exception() is not None:
                self.recorder.restore(entries)

        commit.add_done_callback(failed)
        try:
            await asyncio.shield(commit)
        finally:
            self._flushing = None
        self._flush_if_due()  # outcomes that arrived meanwhile

    async def _flush_while_running(self) -> None:
        # For slow rows: outcomes wait at most FLUSH_SECONDS even when few complete.
        # It ends with the last row, not up to a poll later: the next batch waits on it.
        while not self.done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), FLUSH_POLL_SECONDS)
            self._flush_if_due()

    # --- topping up -----------------------------------------------------------------

    async def _top_up(self, claim: ClaimMore) -> None:
        try:
            this = asyncio.current_task()
            assert this is not None
            # Enough held that every slot stays busy (rows waiting for a slot are claimed
            # already), claimed in chunks of a quarter batch.
            low = max(self.channel.concurrency, self.channel.batch_size // 2)
            high = low + max(1, self.channel.batch_size // 4)
            until = self.clock() + TOP_UP_SECONDS
            while self.clock() < until and self.batch.deadline.remaining() > TOP_UP_MARGIN:
                while self.held > low:
                    self._room.clear()
                    await self._room.wait()
                if this.cancelling():  # the batch is ending: rows are finishing as cancelled
                    return
                try:
                    # On the loop: a claim waits for the GIL at every statement in a
                    # thread behind a busy loop, and the slots it should fill stay idle
                    # (bench/webhooks.py, end to end). One claim per quarter batch.
                    more = claim(high - self.held)
                except Exception:  # the batch goes on with what it holds
                    log.exception(kv(msg="could not claim more rows", channel=self.channel.name))
                    return
                if not more:
                    return
                self.unstarted.add(more)
                self._hold(more)
        finally:
            self.topping_up = False
            self._check_done()

    # --- threads --------------------------------------------------------------------

    def _thread(self, work: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """``work`` in a thread, tracked: the batch waits for it before it ends, even
        when whoever awaited it was cancelled (:meth:`_threads_finished`)."""
        future: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(work, *args))
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return future

    async def _threads_finished(self) -> None:
        while self._threads:
            await asyncio.wait(list(self._threads))


async def _attempt(
    channel: AsyncChannel, job: Claimed, batch: BatchContext, recorder: Recorder
) -> None:
    started, clock = utcnow(), time.perf_counter()
    try:
        outcome = await channel.deliver(job, batch)
    except asyncio.CancelledError:
        # It may have reached the receiver: an attempt spent, retried on schedule.
        why = "the batch deadline" if batch.deadline.passed() else "the worker stopping"
        outcome = DeliveryOutcome(
            job.delivery_id, ok=False, error_class="E_CANCELLED", detail=f"cancelled by {why}"
        )
        recorder.add(job, outcome, started, (time.perf_counter() - clock) * 1000)
        raise
    except Exception as exc:  # a bug or outage in the channel is this row's failure
        log.exception(kv(msg="channel raised", channel=channel.name, delivery_id=job.delivery_id))
        outcome = failure(job, exc)
    recorder.add(job, outcome, started, (time.perf_counter() - clock) * 1000)
