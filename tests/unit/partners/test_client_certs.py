"""Per-partner mutual TLS: a real TLS receiver that requires a client certificate (a CA
and certificates made here with ``cryptography``), the key sealed at rest."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text

from syndicator.channels.base import ChannelContext
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.config import Settings
from syndicator.delivery import aio
from syndicator.delivery.runner import run_due
from syndicator.events.signing import generate_secret
from syndicator.partners import client_certs
from syndicator.partners.registry import InvalidPartner
from syndicator.store.db import Database
from syndicator.store.sealed import keyring
from tests.integration.webhook_receiver import Receiver, receiver
from tests.integration.webhook_support import add_partner, attempts, publish

_PEM = serialization.Encoding.PEM


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    **ext: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    signer_name, signer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )
    if ext.get("ca"):
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    if ext.get("server") or ext.get("name_only"):
        names: list[x509.GeneralName] = [x509.DNSName("hooks.partner.test")]
        if not ext.get("name_only"):
            names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    return builder.sign(signer_key, hashes.SHA256())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class Pki:
    def __init__(self, root: Path, name_only: bool = False) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = _issue("syndicator test CA", self.ca_key, None, ca=True)
        issuer = (self.ca.subject, self.ca_key)
        self.server_key = ec.generate_private_key(ec.SECP256R1())
        # name_only: a certificate for hooks.partner.test alone, not for its address.
        self.server = _issue(
            "partner.test", self.server_key, issuer, server=True, name_only=name_only
        )
        self.client_key = ec.generate_private_key(ec.SECP256R1())
        self.client = _issue("syndicator client", self.client_key, issuer)
        self.ca_file = root / "ca.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(_PEM))
        self.server_file = root / "server.pem"
        self.server_file.write_text(
            _key_pem(self.server_key) + self.server.public_bytes(_PEM).decode()
        )

    def server_context(self, require_client: bool = True) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_file)
        context.load_verify_locations(self.ca_file)
        if require_client:
            context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no handshake
        return context


@pytest.fixture
def pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pki:
    made = Pki(tmp_path)
    # The channel's TLS contexts trust the system's CAs: here, the test CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(made.ca_file))
    return made


@pytest.fixture
def site(pki: Pki) -> Iterator[Receiver]:
    with receiver(pki.server_context()) as running:
        yield running


@pytest.fixture
def channel(db: Database, settings: Settings, redis_url: str) -> Iterator[WebhooksChannel]:
    local = settings.with_(
        redis_url=redis_url, webhook_allowed_networks=("127.0.0.0/8",), webhook_timeout=10.0
    )
    opened = WebhooksChannel(ChannelContext(local, db))
    yield opened
    aio.close_channels([opened])


def test_a_partner_requiring_a_client_certificate_gets_its_own(
    db: Database, settings: Settings, pki: Pki, site: Receiver, channel: WebhooksChannel
) -> None:
    ring = keyring(settings.encryption_keys)
    with_cert = add_partner(db, site.url("a"), secrets=[(generate_secret(), None)])
    shown = client_certs.set_cert(
        db,
        with_cert,
        pki.client.public_bytes(_PEM).decode(),
        _key_pem(pki.client_key),
        "test",
        ring=ring,
    )
    assert shown.subject == "CN=syndicator client"
    # The receiver requires a certificate of its CA (server_context): the delivery gets in
    # only by presenting the partner's. (Without it the handshake fails: the attempt is
    # ``tls``, checked by hand; a refused handshake leaves an asyncio transport unclosed
    # in the server, which pytest reports at exit.)
    run_due(db, channel, publish(db, channel, 21))
    assert len(site.to("a")) == 1
    assert [(a.outcome, a.error_class) for a in attempts(db)] == [("succeeded", None)]
    # The key is sealed at rest: the stored column holds no PEM.
    with db.session() as session:
        stored = session.execute(text("SELECT key FROM partner_client_certs")).scalar_one()
    assert "PRIVATE KEY" not in stored and "BEGIN" not in stored


def test_a_key_that_does_not_match_or_is_not_pem_is_refused(
    db: Database, settings: Settings, pki: Pki
) -> None:
    partner = add_partner(db, "https://93.184.215.14/hooks")
    ring = keyring(settings.encryption_keys)
    cert = pki.client.public_bytes(_PEM).decode()
    with pytest.raises(InvalidPartner, match="does not match"):
        client_certs.set_cert(db, partner, cert, _key_pem(pki.server_key), "t", ring=ring)
    with pytest.raises(InvalidPartner, match="not a PEM"):
        client_certs.set_cert(db, partner, "hello", _key_pem(pki.client_key), "t", ring=ring)
    assert client_certs.view(db, partner) is None
