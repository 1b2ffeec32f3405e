"""DKIM: a newsletter received over SMTP verifies with dkimpy against the public key."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import dkim
import pytest

from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.delivery.runner import Enqueue, plan_event, run_due
from syndicator.mail.compose import transactional_message
from syndicator.store.db import Database
from tests.mail_server import running_mail_server
from tests.newsletter_support import add_subscriber, publish
from tests.unit.mail.support import mail_settings


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A fresh RSA key (PEM file) and its DNS TXT record."""
    folder = tmp_path_factory.mktemp("dkim")
    private = folder / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def verify(raw: bytes, record: bytes) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"news._domainkey.daegu.go.kr."
        return record

    return bool(dkim.verify(raw, dnsfunc=dns))


def test_a_newsletter_sent_over_smtp_verifies(
    db: Database, tmp_path: Path, database_url: str, key_pair: tuple[Path, bytes]
) -> None:
    private, record = key_pair
    with running_mail_server() as smtp:
        config = mail_settings(
            tmp_path,
            SYNDICATOR_SMTP_URL=smtp.url,
            SYNDICATOR_DATABASE_URL=database_url,
            SYNDICATOR_DKIM_KEY=str(private),
            SYNDICATOR_DKIM_SELECTOR="news",
            SYNDICATOR_DKIM_DOMAIN="daegu.go.kr",
        )
        channel = EmailChannel(ChannelContext(settings=config, db=db))
        add_subscriber(db, "a@example.org")
        queued: list[Enqueue] = []
        plan_event(db, {"email": channel}, publish(db, 1), queued.append)
        run_due(db, channel, [i for item in queued for i in item.delivery_ids])
        channel.close()
        (received,) = smtp.received
    assert received.raw.startswith(b"DKIM-Signature:")
    signature = received.raw.split(b"\r\n\r\n", 1)[0]
    signed = re.search(rb"h=([^;]+);", signature.replace(b"\r\n", b"").replace(b" ", b""))
    assert signed and b"list-unsubscribe-post" in signed.group(1).lower()
    assert verify(received.raw, record)
    tampered = received.raw.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"List-Unsubscribe-Post: List-Unsubscribe=Two-Click",
    )
    assert not verify(tampered, record)


def test_a_transactional_message_verifies(tmp_path: Path, key_pair: tuple[Path, bytes]) -> None:
    private, record = key_pair
    templates = tmp_path / "templates" / "email" / "note"
    templates.mkdir(parents=True)
    (templates / "subject.txt").write_text("안내")
    (templates / "body.txt").write_text("본문 {{ x }}")
    (templates / "body.html").write_text("<p>본문 {{ x }}</p>")
    config = mail_settings(
        tmp_path,
        SYNDICATOR_DKIM_KEY=str(private),
        SYNDICATOR_DKIM_SELECTOR="news",
        SYNDICATOR_DKIM_DOMAIN="daegu.go.kr",
    ).with_(templates_dir=tmp_path / "templates")
    raw = transactional_message(config, "note", {"x": "가" * 2000}, "b@example.org")
    assert verify(raw, record)
