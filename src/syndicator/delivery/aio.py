"""Async channels: one event loop per process, on which their batches run.

The loop outlives a batch because a channel's clients are bound to the loop that opened
them (an aiohttp session is), and they are opened once per process. A batch itself is a
:class:`~syndicator.delivery.batch.ConcurrentBatch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from syndicator.channels.base import (
    AsyncChannel,
    BatchContext,
    Channel,
    CoalescingChannel,
    SyncChannel,
)
from syndicator.delivery.batch import TOP_UP_MARGIN, TOP_UP_SECONDS, ClaimMore, ConcurrentBatch
from syndicator.delivery.recorder import Recorder
from syndicator.delivery.unstarted import Unstarted
from syndicator.ledger.claims import Claimed
from syndicator.logs import kv

__all__ = [
    "TOP_UP_MARGIN",
    "TOP_UP_SECONDS",
    "ClaimMore",
    "close_channels",
    "deliver_concurrently",
    "run",
]

log = logging.getLogger("syndicator.delivery")

T = TypeVar("T")

# How long an interrupted batch gets to record its cancelled rows.
_CANCEL_GRACE_SECONDS = 5.0

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
    """Deliver ``jobs`` as one :class:`~syndicator.delivery.batch.ConcurrentBatch`: rows
    not started by the deadline stay in ``unstarted``, rows in flight at the deadline are
    recorded as retryable, and with ``claim_more`` the batch tops itself up."""
    await ConcurrentBatch(channel, batch, recorder, unstarted, claim_more).run(jobs)
