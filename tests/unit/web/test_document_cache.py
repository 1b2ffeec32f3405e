"""The web node's document cache on a real database: a publish made while a document loads
never leaves the old bytes cached behind the refresh that announced it."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from syndicator.store import documents
from syndicator.store.db import Database
from syndicator.web.representations import DocumentCache, Headers

PATH = "rss.xml"


@dataclass(frozen=True)
class Doc:
    path: str
    data: bytes
    content_time: datetime


def store(db: Database, body: bytes) -> None:
    with db.session() as session:
        documents.save(session, [Doc(PATH, body, datetime.now(UTC))])


def test_a_load_overtaken_by_a_publish_is_served_once_and_not_kept(db: Database) -> None:
    store(db, b"<rss>old</rss>")
    reading = threading.Event()
    proceed = threading.Event()

    def build(path: str, data: bytes) -> tuple[bytes, Headers]:
        # The load has read its row: hold it here while a publish and its refresh pass.
        reading.set()
        proceed.wait(10)
        return data, []

    cache = DocumentCache(db, build, check_every=3600)  # only refresh() checks again

    async def scenario() -> tuple[bytes, bytes]:
        loading = asyncio.ensure_future(cache.get(PATH))
        await asyncio.to_thread(reading.wait, 10)
        store(db, b"<rss>new</rss>")
        await cache.refresh()  # what a publisher's announcement triggers
        proceed.set()
        first = await loading
        again = await cache.get(PATH)
        assert first is not None and again is not None
        return first.body, again.body

    first, again = asyncio.run(scenario())
    assert first == b"<rss>old</rss>"  # read before the publish: served to that request
    assert again == b"<rss>new</rss>"  # but not kept past the refresh
