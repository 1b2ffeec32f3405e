"""A confirmation mail leaves from a VERP envelope sender naming its subscriber, so a
bounce of a mistyped address is tied to it; without a bounce address, from the From
address as before. Received by a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.bounces.verp import VerpIds, read_tag, tag_of_address
from syndicator.store.db import Database
from syndicator.subscriptions.confirmation import send_subscription_mail
from syndicator.subscriptions.states import MailToSend
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import add_subscriber
from tests.unit.mail.support import mail_settings


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.mark.parametrize("bounce_address", ["bounces@news.example.kr", ""])
def test_the_confirmation_envelope_names_its_subscriber(
    db: Database, smtp: MailServer, tmp_path: Path, bounce_address: str
) -> None:
    settings = mail_settings(
        tmp_path, SYNDICATOR_SMTP_URL=smtp.url, SYNDICATOR_BOUNCE_ADDRESS=bounce_address
    )
    sid = add_subscriber(db, "new@example.org", status="pending")
    assert send_subscription_mail(settings, db, sid, MailToSend.CONFIRM) is not None
    (received,) = smtp.received
    if not bounce_address:
        assert received.sender == "noreply@daegu.go.kr"
        return
    tag = tag_of_address(settings, received.sender)
    assert tag is not None and read_tag(settings, tag) == VerpIds(0, sid)
