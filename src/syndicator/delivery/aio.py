"""Async channels: one event loop per process, rows run concurrently under caps.

The loop outlives a batch because a channel's clients are bound to the loop that opened
them (an aiohttp session is), and they are opened once per process. Rows start in order
within their caps: at most ``concurrency`` in flight and ``group_limit`` per group. A row
waiting for its group holds no global slot, so a slow partner never starves the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from syndicator.channels.base import (
    AsyncChannel,
    BatchContext,
    Channel,
    CoalescingChannel,
    DeliveryOutcome,
    SyncChannel,
)
from syndicator.delivery.recorder import Recorder, failure
from syndicator.delivery.unstarted import Unstarted
from syndicator.ledger.claims import Claimed
from syndicator.logs import kv
from syndicator.store.models import utcnow

__all__ = ["TOP_UP_SECONDS", "ClaimMore", "close_channels", "deliver_concurrently", "run"]

log = logging.getLogger("syndicator.delivery")

T = TypeVar("T")

# How often the recorder is asked whether a flush is due, between rows completing.
_FLUSH_POLL_SECONDS = 0.1
# How long an interrupted batch gets to record its cancelled rows.
_CANCEL_GRACE_SECONDS = 5.0
# How long a batch keeps topping itself up with due rows (see deliver_concurrently):
# long enough that a fan-out flows without gaps, short enough that a fan-out or another
# queue's task waiting for this process is not held up for long.
TOP_UP_SECONDS = 15.0
# No top-up this close to the batch deadline: rows claimed then would only be handed back.
TOP_UP_MARGIN = 30.0

# Claims up to n more due rows of the batch's channel (and hands them to the runner).
ClaimMore = Callable[[int], Sequence[Claimed]]

_loop: tuple[int, asyncio.AbstractEventLoop] | None = None


def _process_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None or _loop[0] != os.getpid() or _loop[1].is_closed():
        _loop = (os.getpid(), asyncio.new_event_loop())  # after a fork, never the parent's
    return _loop[1]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on this process's loop."""
    loop = _process_loop()
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        # Interrupted from outside (a signal): cancel the batch so its rows in flight are
        # recorded, rather than leave it to resume in the next task's run.
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.wait([task], timeout=_CANCEL_GRACE_SECONDS))
        raise


def close_channels(channels: Iterable[Channel]) -> None:
    """Release every channel's per-process resources, then the loop: at process exit."""
    for channel in channels:
        try:
            if isinstance(channel, AsyncChannel):
                run(channel.aclose())
            elif isinstance(channel, SyncChannel | CoalescingChannel):
                channel.close()
        except Exception:
            log.exception(kv(msg="channel did not close cleanly", channel=channel.name))
    global _loop
    if _loop is not None and _loop[0] == os.getpid() and not _loop[1].is_closed():
        loop = _loop[1]
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    _loop = None


async def deliver_concurrently(
    channel: AsyncChannel,
    jobs: Sequence[Claimed],
    batch: BatchContext,
    recorder: Recorder,
    unstarted: Unstarted,
    claim_more: ClaimMore | None = None,
) -> None:
    """Deliver ``jobs`` concurrently until done or the deadline; record each as it ends.

    Rows not started by the deadline stay in ``unstarted`` (the caller hands them back);
    rows in flight at the deadline are cancelled and recorded as retryable.

    With ``claim_more``, the batch tops itself up: whenever the rows it holds fall to
    what keeps every slot busy (``concurrency``, or half a batch when that is more), it
    claims a quarter batch more of the channel's due rows (rows that queued tasks were
    about to bring, or retries now due), for up to :data:`TOP_UP_SECONDS`. The process
    then keeps its slots full instead of idling while its last answers arrive and between
    tasks; the tasks whose rows it took find them claimed and end at once. ``claim_more``
    must also add the rows to ``unstarted``: the caller settles them like its own.
    """
    slots = asyncio.Semaphore(channel.concurrency)
    groups: defaultdict[str, asyncio.Semaphore] = defaultdict(
        lambda: asyncio.Semaphore(channel.group_limit)
    )
    # Rows claimed and not finished, plus one while the top-up runs.
    unfinished = len(jobs) + (1 if claim_more else 0)
    all_done = asyncio.Event()
    room = asyncio.Event()  # a row finished: the top-up may claim more

    def finished() -> None:
        nonlocal unfinished
        unfinished -= 1
        room.set()
        if not unfinished:
            all_done.set()

    async def one(job: Claimed) -> None:
        try:
            # The group first: a row waiting for its partner holds no global slot.
            async with groups[channel.group(job.target)], slots:
                if not batch.deadline.passed():
                    unstarted.start(job.delivery_id)
                    await _attempt(channel, job, batch, recorder)
        finally:
            finished()

    async def flush_while_running() -> None:
        # For slow rows: outcomes wait at most FLUSH_SECONDS even when few complete.
        # It ends with the last row, not up to a poll later: the next batch waits on it.
        while unfinished:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_done.wait(), _FLUSH_POLL_SECONDS)
            if recorder.due():
                recorder.flush()

    async def top_up(rows: asyncio.TaskGroup, claim: ClaimMore) -> None:
        nonlocal unfinished
        try:
            this = asyncio.current_task()
            assert this is not None
            # Enough held that every slot stays busy (rows waiting for a slot are claimed
            # already), claimed in chunks of a quarter batch.
            low = max(channel.concurrency, channel.batch_size // 2)
            high = low + max(1, channel.batch_size // 4)
            until = time.monotonic() + TOP_UP_SECONDS
            while time.monotonic() < until and batch.deadline.remaining() > TOP_UP_MARGIN:
                while unfinished - 1 > low:
                    room.clear()
                    await room.wait()
                if this.cancelling():  # the batch is ending: rows are finishing as cancelled
                    return
                try:
                    more = claim(high - (unfinished - 1))
                except Exception:  # the batch goes on with what it holds
                    log.exception(kv(msg="could not claim more rows", channel=channel.name))
                    return
                if not more:
                    return
                unfinished += len(more)
                for job in more:
                    rows.create_task(one(job))
        finally:
            finished()

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(batch.deadline.remaining()), asyncio.TaskGroup() as rows:
            for job in jobs:
                rows.create_task(one(job))
            rows.create_task(flush_while_running())
            if claim_more is not None:
                rows.create_task(top_up(rows, claim_more))


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
    if recorder.due():
        # On the loop, not in a thread: one short transaction per 100 rows pauses the
        # rows in flight for milliseconds, and no outcome waits behind a running flush.
        recorder.flush()
