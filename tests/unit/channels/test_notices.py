"""The notices channel: an operator notice is a ledger delivery, retried and logged.

A real SMTP server (aiosmtpd) refuses the first attempt and takes the retry; the message
is read back with ``email``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from syndicator.channels.base import ChannelContext
from syndicator.channels.notices import NoticesChannel
from syndicator.config import Settings
from syndicator.delivery.runner import run_due
from syndicator.intake.notices import post_notice
from syndicator.ledger.claims import due_for_retry
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, Event, utcnow
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import publish
from tests.unit.mail.support import assert_wire_format, mail_settings

OPS = "ops@press.example.kr"
DISABLED = {
    "partner_id": 7,
    "name": "연합뉴스",
    "url": "https://partner.example/hooks",
    "reason": "410 Gone",
}


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, smtp: MailServer, database_url: str) -> Settings:
    return mail_settings(
        tmp_path,
        SYNDICATOR_SMTP_URL=smtp.url,
        SYNDICATOR_DATABASE_URL=database_url,
        SYNDICATOR_OPS_EMAIL=OPS,
    )


def open_channel(db: Database, settings: Settings) -> NoticesChannel:
    return NoticesChannel(ChannelContext(settings=settings, db=db))


def notice(db: Database) -> int:
    with db.session() as session:
        return post_notice(session, "partner.disabled", DISABLED)


def attempts_of(db: Database, delivery_id: int) -> list[DeliveryAttempt]:
    with db.session() as session:
        rows = session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.id)
        ).all()
        session.expunge_all()
        return list(rows)


def status_of(db: Database, delivery_id: int) -> str:
    with db.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row.status


def test_a_refused_notice_is_retried_and_the_retry_is_mailed(
    db: Database, config: Settings, smtp: MailServer
) -> None:
    smtp.reply_to(OPS, "451 4.3.0 try again later")
    delivery = notice(db)
    with db.session() as session:
        assert due_for_retry(session) == {"notices": [delivery]}  # the sweeper takes it
    channel = open_channel(db, config)
    try:
        run_due(db, channel, [delivery])
        assert smtp.to(OPS) == [] and status_of(db, delivery) == "pending"
        with db.session() as session:  # the retry's time has come
            session.execute(
                update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        run_due(db, channel, [delivery])
    finally:
        channel.close()

    assert status_of(db, delivery) == "succeeded"
    first, second = attempts_of(db, delivery)
    assert (first.outcome, first.status_code, first.error_class) == (
        "retrying",
        451,
        "E_SMTP_TEMPORARY",
    )
    assert (second.outcome, second.status_code) == ("succeeded", 250)
    assert first.message_id == second.message_id  # the same message, tried twice
    (mail,) = smtp.to(OPS)
    assert_wire_format(mail.raw)
    message = mail.parsed()
    assert message["To"] == OPS and message["Message-ID"] == second.message_id
    assert str(message["Subject"]) == "[syndicator] 협력사 웹훅 비활성화: 연합뉴스"
    body = message.get_content()
    assert "syndicator partners enable 7" in body and "410 Gone" in body
    assert "https://partner.example/hooks" in body


def test_a_policy_refusal_fails_for_an_operator_to_read(
    db: Database, config: Settings, smtp: MailServer
) -> None:
    smtp.reply_to(OPS, "554 5.7.1 rejected by policy")
    delivery = notice(db)
    channel = open_channel(db, config)
    try:
        run_due(db, channel, [delivery])
    finally:
        channel.close()
    assert status_of(db, delivery) == "failed"
    (attempt,) = attempts_of(db, delivery)
    assert (attempt.error_class, attempt.status_code) == ("E_SMTP_POLICY", 554)


def test_without_an_ops_address_the_notice_fails_once_and_says_why(
    db: Database, config: Settings, smtp: MailServer
) -> None:
    delivery = notice(db)
    channel = open_channel(db, config.with_(ops_email=None))
    try:
        run_due(db, channel, [delivery])
    finally:
        channel.close()
    (attempt,) = attempts_of(db, delivery)
    assert (attempt.outcome, attempt.error_class) == ("failed", "E_NO_OPS_EMAIL")
    assert smtp.received == []


def test_a_notice_of_an_unknown_kind_fails_without_a_send(
    db: Database, config: Settings, smtp: MailServer
) -> None:
    with db.session() as session:
        delivery = post_notice(session, "partner.renamed", DISABLED)
    channel = open_channel(db, config)
    try:
        run_due(db, channel, [delivery])
    finally:
        channel.close()
    (attempt,) = attempts_of(db, delivery)
    assert attempt.error_class == "E_UNKNOWN_NOTICE" and smtp.received == []


def test_the_channel_plans_nothing_for_a_release(db: Database, config: Settings) -> None:
    assert list(open_channel(db, config).plan(publish(db, 1))) == []


def test_a_portal_link_goes_to_the_partners_contact_and_opens_its_portal(
    db: Database, config: Settings, smtp: MailServer
) -> None:
    from syndicator.partners.portal_links import read_link_token
    from syndicator.partners.portal_requests import request_link
    from syndicator.store.models import Partner
    from tests.sealing import ENCRYPTION_KEY

    config = config.with_(encryption_keys=(ENCRYPTION_KEY,))
    contact = "ops@partner.example"
    with db.session() as session:
        partner = Partner(
            name="연합뉴스", url="https://p.example", headers={}, departments=[], categories=[]
        )
        partner.contact_email = contact
        session.add(partner)
        session.flush()
        partner_id = partner.id
    assert request_link(db, config, "Ops@Partner.example", utcnow()) == 1
    with db.session() as session:
        (delivery,) = due_for_retry(session)["notices"]
    channel = open_channel(db, config)
    try:
        run_due(db, channel, [delivery])
    finally:
        channel.close()
    assert status_of(db, delivery) == "succeeded" and smtp.to(OPS) == []
    (mail,) = smtp.to(contact)
    assert_wire_format(mail.raw)
    body = mail.parsed().get_content()
    (link,) = {word for word in body.split() if "/portal/enter/" in word}
    assert read_link_token(config, link.rsplit("/", 1)[1]) == partner_id
    with db.session() as session:  # the ledger holds no usable link
        payloads = [str(p) for p in session.scalars(select(Event.payload).where(Event.type != "x"))]
    assert not any(link in p for p in payloads)
