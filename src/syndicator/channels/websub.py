"""WebSub channel: tell the hub a feed changed, logged in the ledger like any delivery."""

from __future__ import annotations

import asyncio
import re
import time
from typing import ClassVar

import httpx

from syndicator.channels.base import AsyncChannel, BatchContext, ChannelContext, DeliveryOutcome
from syndicator.channels.http import TIMEOUT, async_client
from syndicator.channels.http_outcomes import HttpOutcome
from syndicator.channels.websub_ping import ping_hub_async
from syndicator.feeds.urls import FEEDS_PATH, SERVABLE_PATH
from syndicator.ledger.claims import Claimed

__all__ = ["FEED_URL", "WebSubChannel"]

# WebSub's targets are topics: the public URLs of our own feed documents, named by the
# feeds channel's follow-up. No query, no user info: nothing personal fits in one.
FEED_URL = re.compile(
    r"https?://[^\s/?#@]+(?:/[^\s?#@]*)?" + re.escape(FEEDS_PATH) + f"/(?:{SERVABLE_PATH.pattern})"
)


class WebSubChannel(AsyncChannel):
    name: ClassVar[str] = "websub"
    queue: ClassVar[str] = "feeds"
    retry_schedule: ClassVar[tuple[float, ...]] = (5, 60, 300, 1800)
    target_pattern: ClassVar[re.Pattern[str]] = FEED_URL
    # One hub, pinged for the few documents a publish changes.
    concurrency: int = 8
    group_limit: int = 8

    def __init__(self, ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self._client: httpx.AsyncClient | None = None  # opened on first use, per process

    def group(self, target: str) -> str:
        return "hub"

    async def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        # Pings follow a successful render (a FollowUp); ``plan`` stays empty.
        hub = self.ctx.settings.websub_hub
        if hub is None:
            return DeliveryOutcome.permanent(
                job.delivery_id, "no-hub", "SYNDICATOR_WEBSUB_HUB unset"
            )
        started = time.perf_counter()
        # The transport bounds each read, not the whole answer: cut off a trickling hub.
        limit = min(TIMEOUT.read or 15.0, batch.deadline.remaining())
        try:
            async with asyncio.timeout(limit):
                result = await ping_hub_async(self._http(), hub, job.target)
        except TimeoutError:
            result = HttpOutcome(False, True, "timeout", f"no whole answer within {limit:.0f} s")
        return result.outcome(job.delivery_id, (time.perf_counter() - started) * 1000)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = async_client(max_connections=self.concurrency)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
