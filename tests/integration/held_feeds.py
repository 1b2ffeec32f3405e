"""The real feeds channel, made to stop mid-run so a test can kill the worker holding the
render lock. A worker loads it via ``SYNDICATOR_EXTRA_CHANNELS=tests.integration.held_feeds:
HeldFeeds``; its name is ``feeds``, so it takes the feeds channel's place (and its lock).

While ``<data dir>/hold-render`` exists, ``deliver_batch`` writes ``<data dir>/render-held``
(the worker is inside the coalescer, lock taken and renewed) and waits; once the file is
gone it renders as the feeds channel does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from syndicator.channels.base import BatchContext, DeliveryReport
from syndicator.channels.feeds import FeedsChannel
from syndicator.ledger.claims import Claimed

__all__ = ["HeldFeeds", "held_marker", "hold_switch"]


def hold_switch(data_dir: Path) -> Path:
    return data_dir / "hold-render"


def held_marker(data_dir: Path) -> Path:
    return data_dir / "render-held"


class HeldFeeds(FeedsChannel):
    def deliver_batch(self, jobs: Sequence[Claimed], batch: BatchContext) -> DeliveryReport:
        data_dir = self.ctx.settings.data_dir
        if hold_switch(data_dir).exists():
            held_marker(data_dir).write_text(str(os.getpid()))
            while hold_switch(data_dir).exists():
                time.sleep(0.1)
        return super().deliver_batch(jobs, batch)
