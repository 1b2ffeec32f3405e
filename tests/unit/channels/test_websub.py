"""The WebSub channel as an async channel: one aiohttp-backed client per process, kept
across batches on the process's event loop, closed at exit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from syndicator.channels.base import ChannelContext
from syndicator.channels.websub import FEED_URL, WebSubChannel
from syndicator.config import Settings
from syndicator.delivery import aio
from syndicator.delivery.runner import run_due
from syndicator.ledger.targets import InvalidTarget, ensure_deliveries
from syndicator.store.db import Database
from syndicator.store.models import Delivery
from tests.unit.delivery.fakes import an_event


class Hub(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.topics: list[str] = []
        self.connections: set[int] = set()


class HubHandler(BaseHTTPRequestHandler):
    server: Hub
    protocol_version = "HTTP/1.1"  # keep-alive, so a reused client shows as one connection

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.topics.append(parse_qs(body.decode())["hub.url"][0])
        self.server.connections.add(self.client_address[1])
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


TOPIC = "https://press.example.kr/feeds/departments/gwangwanggwa/atom.xml"


def test_one_client_serves_every_batch_then_closes(
    hub: Hub, settings: Settings, db: Database
) -> None:
    url = f"http://127.0.0.1:{hub.server_address[1]}/hub"
    channel = WebSubChannel(ChannelContext(settings.with_(websub_hub=url), db))
    first, second = an_event(db, 1), an_event(db, 2)
    for event in (first, second):  # two tasks in the same worker process
        with db.session() as session:
            ids = ensure_deliveries(session, event.id, "websub", [TOPIC], FEED_URL)
        run_due(db, channel, ids)
    with db.session() as session:
        assert session.scalars(select(Delivery.status)).all() == ["succeeded"] * 2
    assert hub.topics == [TOPIC, TOPIC]
    assert len(hub.connections) == 1  # the same pooled connection: the client outlived a batch
    client = channel._client
    aio.close_channels([channel])
    assert client is not None and client.is_closed and channel._client is None


@pytest.mark.parametrize(
    "target",
    [
        "https://press.example.kr/feeds/rss.xml?email=kim@example.kr",
        "https://kim:pw@press.example.kr/feeds/rss.xml",
        "https://press.example.kr/private/rss.xml",
        "subscriber:1",
    ],
)
def test_websub_targets_are_our_own_feed_urls(db: Database, target: str) -> None:
    event = an_event(db)
    with db.session() as session, pytest.raises(InvalidTarget):
        ensure_deliveries(session, event.id, "websub", [target], FEED_URL)
