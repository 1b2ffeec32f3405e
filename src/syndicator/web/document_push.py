"""Refreshing the feed caches the moment a publisher announces stored documents.

One task per web process subscribes to the Redis channel the feeds channel publishes on
(syndicator.feeds.changes) and refreshes every document cache at each message. Without
Redis it retries in the background; meanwhile, and for any message it missed, each
cache's own poll (``SYNDICATOR_DOCUMENT_CHECK_SECONDS``) still finds every change. After
a reconnect it refreshes once, for what may have been announced while it was away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from syndicator.config import Settings
from syndicator.feeds.changes import documents_channel
from syndicator.logs import kv
from syndicator.runtime.redis_urls import async_redis_client
from syndicator.web.representations import DocumentCache

__all__ = ["DocumentPush"]

log = logging.getLogger("syndicator.web")

_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # then every 5 s while Redis stays away


class DocumentPush:
    def __init__(self, settings: Settings, caches: Sequence[DocumentCache]) -> None:
        self.settings = settings
        self.caches = caches
        self.task: asyncio.Task[None] | None = None
        self.listening = False

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run(), name="document push")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def refresh_all(self) -> None:
        for cache in self.caches:
            await cache.refresh()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen()  # returns only if the server ended the subscription
                failures = 0
            except Exception as exc:  # Redis away or anything else: the poll covers it
                if self.listening:
                    failures = 0
                if failures == 0:
                    log.warning(kv(msg="feed change push unavailable; polling", error=str(exc)))
                delay = _RETRY_SECONDS[min(failures, len(_RETRY_SECONDS) - 1)]
                failures += 1
                self.listening = False
                await asyncio.sleep(delay)

    async def _listen(self) -> None:
        # No read timeout: the subscription waits for announcements as long as it lasts.
        client = async_redis_client(self.settings, timeout=None, connect_timeout=2)
        try:
            async with client.pubsub() as pubsub:
                db = int(client.connection_pool.connection_kwargs.get("db", 0))
                await pubsub.subscribe(documents_channel(db))
                # Whatever was announced before this subscription took effect.
                await self.refresh_all()
                self.listening = True
                log.info(kv(msg="feed change push listening"))
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self.refresh_all()
        finally:
            await client.aclose()
