"""WebSub channel: tell the hub a feed changed, logged in the ledger like any delivery."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from syndicator.channels.base import ChannelContext, DeliveryOutcome, DeliveryReport, EventRecord
from syndicator.channels.websub_ping import ping_hub
from syndicator.store.ledger import Claimed

__all__ = ["WebSubChannel"]


class WebSubChannel:
    name: ClassVar[str] = "websub"
    queue: ClassVar[str] = "feeds"
    coalesce: ClassVar[bool] = False
    min_interval: ClassVar[float] = 0.0
    retry_delays: ClassVar[tuple[float, ...]] = (5, 60, 300, 1800)

    def __init__(self, ctx: ChannelContext) -> None:
        self.ctx = ctx

    def plan(self, event: EventRecord) -> Sequence[str]:
        # Pings follow a successful render (a FollowUp), never an event directly.
        return []

    def deliver(self, jobs: Sequence[Claimed]) -> DeliveryReport:
        hub = self.ctx.settings.websub_hub
        outcomes = []
        for job in jobs:
            started = time.perf_counter()
            if hub is None:
                outcomes.append(
                    DeliveryOutcome(
                        job.delivery_id,
                        ok=False,
                        retryable=False,
                        error_class="E_NO_HUB",
                        detail="SYNDICATOR_WEBSUB_HUB unset",
                    )
                )
                continue
            result = ping_hub(self.ctx.http, hub, job.target)
            outcomes.append(
                DeliveryOutcome(
                    job.delivery_id,
                    ok=result.ok,
                    retryable=result.retryable,
                    error_class=result.error_class,
                    detail=result.detail,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            )
        return DeliveryReport(outcomes)
