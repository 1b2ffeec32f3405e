"""Partner deliveries through an egress proxy: a real CONNECT proxy (tests/connect_proxy.py)
and a real receiver on loopback. Every delivery goes through the proxy, to the address the
SSRF guard checked; what the guard refuses never reaches the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.channels.base import ChannelContext
from syndicator.channels.egress import ProxyEgress, check_proxy_url
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.config import Settings
from syndicator.delivery import aio
from syndicator.delivery.runner import run_due
from syndicator.events.signing import generate_secret
from syndicator.partners.client_certs import set_cert
from syndicator.partners.ssrf import GuardRefused, StaticResolve
from syndicator.store.db import Database
from syndicator.store.sealed import keyring
from tests.connect_proxy import ConnectProxy, connect_proxy
from tests.integration.webhook_receiver import Receiver, receiver
from tests.integration.webhook_support import add_partner, attempts, deliveries, publish
from tests.unit.partners.test_client_certs import _PEM, Pki, _key_pem

NAMES = StaticResolve({"hooks.partner.test": ["127.0.0.1"], "inside.partner.test": ["10.1.2.3"]})


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with connect_proxy() as running:
        yield running


@pytest.fixture
def site() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


@pytest.fixture
def channel(
    db: Database, settings: Settings, redis_url: str, proxy: ConnectProxy
) -> Iterator[WebhooksChannel]:
    local = settings.with_(
        redis_url=redis_url,
        webhook_allowed_networks=("127.0.0.0/8",),
        webhook_timeout=10.0,
        webhook_proxy=proxy.url,
    )
    opened = WebhooksChannel(ChannelContext(local, db), resolve=NAMES.aresolve)
    yield opened
    aio.close_channels([opened])


def test_every_delivery_goes_through_the_proxy_to_the_checked_address(
    db: Database, channel: WebhooksChannel, site: Receiver, proxy: ConnectProxy
) -> None:
    named = site.url("a").replace("127.0.0.1", "hooks.partner.test")
    add_partner(
        db,
        named,
        secrets=[(generate_secret(), None)],
        headers={"Proxy-Authorization": "Basic c3RvbGVu", "X-Partner": "연합"},
    )
    for n in range(3):
        add_partner(db, site.url(f"b{n}"), secrets=[(generate_secret(), None)])
    for release in (11, 12):
        run_due(db, channel, publish(db, channel, release))
    assert {row.status for row in deliveries(db)} == {"succeeded"} and len(site.requests) == 8
    # Every request the receiver got came from a connection the proxy opened.
    assert {r.peer_port for r in site.requests} <= proxy.upstream_ports
    # The proxy was sent the checked address, never the name it could look up again.
    assert proxy.asked and not any("partner.test" in asked for asked in proxy.asked)
    assert all(f"127.0.0.1:{site.port}" in asked for asked in proxy.asked)
    for got in site.to("a"):
        assert got.headers["host"] == f"hooks.partner.test:{site.port}"
        assert "proxy-authorization" not in got.headers and got.headers["x-partner"] == "연합"


def test_what_the_guard_refuses_never_reaches_the_proxy(
    db: Database, channel: WebhooksChannel, site: Receiver, proxy: ConnectProxy
) -> None:
    add_partner(db, "http://inside.partner.test/hook", secrets=[(generate_secret(), None)])
    add_partner(db, f"{proxy.url}/via-the-proxy", secrets=[(generate_secret(), None)])
    run_due(db, channel, publish(db, channel, 13))
    assert proxy.asked == [] and site.requests == []
    found = sorted((a.error_class or "", a.detail or "") for a in attempts(db))
    assert [error for error, _ in found] == ["ssrf-refused", "ssrf-refused"]
    assert any("10.1.2.3" in detail for _, detail in found)
    assert any("egress proxy itself" in detail for _, detail in found)


def test_no_name_but_the_proxys_is_ever_resolved_for_a_direct_connection() -> None:
    egress = ProxyEgress("http://proxy.city.test:4750", ("127.0.0.0/8",), NAMES.aresolve)
    with pytest.raises(GuardRefused, match="without the egress proxy"):
        asyncio.run(egress.resolver().resolve("hooks.partner.test", 80))


@pytest.mark.parametrize(
    "url", ["socks5://127.0.0.1:1080", "http://proxy/path", "http://:8080", "http://p:99999"]
)
def test_a_proxy_url_names_an_http_proxy_and_nothing_more(url: str) -> None:
    with pytest.raises(ValueError, match="must"):
        check_proxy_url(url)


def test_https_and_mtls_go_through_a_connect_tunnel_to_the_checked_address(
    db: Database,
    settings: Settings,
    channel: WebhooksChannel,
    proxy: ConnectProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pki = Pki(tmp_path, name_only=True)
    # The partner's own TLS context (its client certificate's) trusts the system's CAs,
    # read when it is made: here, the test CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    with receiver(pki.server_context()) as tls_site:
        url = f"https://hooks.partner.test:{tls_site.port}/p/a"
        partner = add_partner(db, url, secrets=[(generate_secret(), None)])
        cert = pki.client.public_bytes(_PEM).decode()
        ring = keyring(settings.encryption_keys)
        set_cert(db, partner, cert, _key_pem(pki.client_key), "test", ring=ring)
        run_due(db, channel, publish(db, channel, 14))
        (got,) = tls_site.to("a")
        aio.close_channels([channel])  # its TLS connections end before the server does
    # One tunnel, asked for the checked address; the server's certificate names only
    # hooks.partner.test, so TLS checked the name; the client certificate went through too.
    assert proxy.asked == [f"CONNECT 127.0.0.1:{tls_site.port}"]
    assert got.peer_port in proxy.upstream_ports
    assert got.headers["host"] == f"hooks.partner.test:{tls_site.port}"
    assert [a.outcome for a in attempts(db)] == ["succeeded"]
