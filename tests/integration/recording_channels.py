"""Test channels a real worker loads via SYNDICATOR_EXTRA_CHANNELS=module:Class.

Each delivered row appends its target to ``<data dir>/delivered.log`` with one O_APPEND
write: the kernel has it the moment ``deliver`` returns, so a SIGKILL right after loses
nothing, and the file says exactly what reached the "receiver".
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from syndicator.channels.base import (
    AsyncChannel,
    BatchContext,
    ChannelContext,
    DeliveryOutcome,
    EventRecord,
    SyncChannel,
)
from syndicator.ledger.claims import Claimed

ROWS = 2000
QUEUE = "bulk"


def delivered_log(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir / "delivered.log"


def _append(path: Path, target: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{target}\n".encode())
    finally:
        os.close(fd)


class SlowRecorded(SyncChannel):
    """2,000 rows in one batch, 3 ms each: a kill lands in the middle of it."""

    name: ClassVar[str] = "recorded"
    queue: ClassVar[str] = QUEUE
    batch_size: ClassVar[int] = ROWS

    def __init__(self, ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self.log = delivered_log(ctx.settings.data_dir)

    def plan(self, event: EventRecord) -> Iterator[str]:
        return (f"subscriber:{n}" for n in range(ROWS))

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        time.sleep(0.003)
        _append(self.log, job.target)
        return DeliveryOutcome(job.delivery_id, ok=True)


class SlowRecordedAsync(AsyncChannel):
    """The same through the event loop: 20 in flight, 5 per partner, 30 ms each."""

    name: ClassVar[str] = "recorded"
    queue: ClassVar[str] = QUEUE
    batch_size: ClassVar[int] = ROWS
    concurrency: int = 20
    group_limit: int = 5

    def __init__(self, ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self.log = delivered_log(ctx.settings.data_dir)

    def plan(self, event: EventRecord) -> Iterator[str]:
        return (f"partner:{n}" for n in range(ROWS))

    def group(self, target: str) -> str:
        return str(int(target.partition(":")[2]) % 10)

    async def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        await asyncio.sleep(0.03)
        _append(self.log, job.target)
        return DeliveryOutcome(job.delivery_id, ok=True)


POISON_ROWS = 30
POISON_TARGET = "subscriber:13"


class Poisonous(SyncChannel):
    """30 rows; delivering ``subscriber:13`` ends the worker process (a segfault in a
    native library, an out-of-memory kill), every time."""

    name: ClassVar[str] = "recorded"
    queue: ClassVar[str] = QUEUE

    def __init__(self, ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self.log = delivered_log(ctx.settings.data_dir)

    def plan(self, event: EventRecord) -> Iterator[str]:
        return (f"subscriber:{n}" for n in range(POISON_ROWS))

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        if job.target == POISON_TARGET:
            os._exit(70)
        _append(self.log, job.target)
        return DeliveryOutcome(job.delivery_id, ok=True)
