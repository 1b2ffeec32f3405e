"""WebSub publish pings against a real HTTP receiver (http.server in a thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select

from syndicator.channels.websub_ping import ping_hub
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt
from tests.factories import make_event
from tests.services import free_port
from tests.system import RunningSystem, system_env, wait_for

TOPIC = "https://press.example.kr/feeds/departments/gwangwanggwa/atom.xml"


class Hub(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.received: list[tuple[str, str, bytes]] = []
        self.status = 202


class HubHandler(BaseHTTPRequestHandler):
    server: Hub

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

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


def _url(hub: Hub) -> str:
    return f"http://127.0.0.1:{hub.server_address[1]}/hub"


def test_ping_posts_the_publish_form(hub: Hub) -> None:
    with httpx.Client(timeout=5) as client:
        result = ping_hub(client, _url(hub), TOPIC)
    assert result.ok and not result.retryable and result.error_class is None
    assert result.status_code == 202
    [(path, content_type, body)] = hub.received
    assert path == "/hub"
    assert content_type == "application/x-www-form-urlencoded"
    assert parse_qs(body.decode("ascii"), strict_parsing=True) == {
        "hub.mode": ["publish"],
        "hub.url": [TOPIC],
    }


@pytest.mark.parametrize(
    ("status", "retryable"), [(503, True), (429, True), (500, True), (400, False), (404, False)]
)
def test_hub_refusals_are_classified(hub: Hub, status: int, retryable: bool) -> None:
    hub.status = status
    with httpx.Client(timeout=5) as client:
        result = ping_hub(client, _url(hub), TOPIC)
    assert not result.ok
    assert result.retryable is retryable
    assert (result.error_class, result.status_code) == ("http", status)
    assert result.detail and str(status) in result.detail


def test_unreachable_hub_is_retryable() -> None:
    with httpx.Client(timeout=2) as client:
        result = ping_hub(client, f"http://127.0.0.1:{free_port()}/hub", TOPIC)
    assert not result.ok and result.retryable and result.error_class == "connect"


def test_misconfigured_hub_url_is_permanent() -> None:
    with httpx.Client(timeout=2) as client:
        result = ping_hub(client, "ftp://hub.example.kr/", TOPIC)
    assert not result.ok and not result.retryable and result.error_class == "invalid-url"
    assert "SYNDICATOR_WEBSUB_HUB" in result.detail


def test_a_publish_pings_the_hub_through_the_worker_and_retries_a_failure(
    hub: Hub, tmp_path, sqlite_url, redis_url, cms_secret
) -> None:
    hub.status = 503  # the hub is down for the first round of pings
    env = system_env(tmp_path, sqlite_url, redis_url, cms_secret, SYNDICATOR_WEBSUB_HUB=_url(hub))
    system = RunningSystem(env, tmp_path / "system.log")
    database = Database(sqlite_url)
    try:
        system.start()
        assert system.publish(make_event(867)).status_code == 202

        def statuses() -> set[tuple[str, int]]:
            with database.session() as session:
                rows = session.scalars(select(Delivery).where(Delivery.channel == "websub"))
                return {(d.status, d.attempts) for d in rows}

        # Every ping has failed once and waits for its retry; then the hub comes back.
        wait_for(lambda: statuses() == {("pending", 1)}, what="the first round of pings")
        hub.status = 202
        site_rss = f"{system.url}/feeds/rss.xml"

        def pinged_topics() -> set[str]:
            return {parse_qs(body.decode())["hub.url"][0] for _, _, body in hub.received}

        wait_for(
            lambda: statuses() == {("succeeded", 2)},
            90,
            "the pings to succeed after the hub came back",
        )
        assert site_rss in pinged_topics()
        for _, content_type, body in hub.received:
            form = parse_qs(body.decode())
            assert content_type == "application/x-www-form-urlencoded"
            assert form["hub.mode"] == ["publish"]
        with database.session() as session:
            outcomes = session.scalars(
                select(DeliveryAttempt.outcome)
                .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
                .where(Delivery.target == site_rss)
                .order_by(DeliveryAttempt.id)
            ).all()
        assert outcomes == ["retrying", "succeeded"]
        feed = system.get("/feeds/rss.xml")
        assert f'<{_url(hub)}>; rel="hub"' in feed.headers["link"]
    finally:
        system.stop()
        database.dispose()
