"""The welcome mail: planned once per confirmation in the confirming transaction, sent by
the email channel to a real SMTP server (aiosmtpd), read back with ``email``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.delivery.runner import run_due
from syndicator.ledger.claims import due_for_retry
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Event, NewsletterSend, Subscriber
from syndicator.subscriptions import states
from syndicator.subscriptions.preferences import Preferences
from syndicator.subscriptions.welcome import WELCOME_TYPE, is_welcome
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import attempts_of
from tests.unit.mail.support import assert_wire_format, mail_settings, parse

ADDRESS = "resident@example.org"


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def channel(
    db: Database, tmp_path: Path, smtp: MailServer, database_url: str
) -> Iterator[EmailChannel]:
    settings = mail_settings(
        tmp_path, SYNDICATOR_SMTP_URL=smtp.url, SYNDICATOR_DATABASE_URL=database_url
    )
    made = EmailChannel(ChannelContext(settings=settings, db=db))
    yield made
    made.close()


def subscribe_and_confirm(db: Database, prefs: Preferences, address: str = ADDRESS) -> int:
    with db.session() as session:
        asked = states.request_subscription(session, address, prefs)
    with db.session() as session:
        assert states.confirm(session, asked.subscriber_id, asked.request_id) is (
            states.ConfirmResult.CONFIRMED
        )
    return asked.subscriber_id


def welcome_rows(db: Database) -> list[Delivery]:
    with db.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.event_id.like("welcome-%")))
        return list(rows)


def send_welcomes(db: Database, channel: EmailChannel) -> None:
    """What the sweeper does for a due row: hand it to the channel."""
    with db.session() as session:
        due = due_for_retry(session).get("email", [])
    run_due(db, channel, due)


def test_confirming_plans_one_welcome_due_at_once_and_a_second_press_none(db: Database) -> None:
    subscriber_id = subscribe_and_confirm(db, Preferences())
    (row,) = welcome_rows(db)
    assert (row.channel, row.target, row.status) == (
        "email",
        f"subscriber:{subscriber_id}",
        "pending",
    )
    with db.session() as session:
        assert due_for_retry(session) == {"email": [row.id]}, "the sweeper takes it now"
        event = session.get(Event, row.event_id)
        assert event is not None and event.type == WELCOME_TYPE
        assert ADDRESS not in str(event.payload), "no address in the event"
    with db.session() as session:  # the same link pressed again
        again = states.confirm(session, subscriber_id, 0)
    assert again is states.ConfirmResult.ALREADY_ACTIVE
    assert len(welcome_rows(db)) == 1


def test_each_confirmation_is_welcomed_once(db: Database) -> None:
    subscriber_id = subscribe_and_confirm(db, Preferences())
    with db.session() as session:
        assert states.unsubscribe(session, subscriber_id)
    subscribe_and_confirm(db, Preferences(mode="daily"))
    rows = welcome_rows(db)
    assert len(rows) == 2 and len({r.event_id for r in rows}) == 2
    assert all(is_welcome(r.event_id) for r in rows)


def test_the_welcome_says_what_and_how_often_with_the_preferences_link(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    prefs = Preferences(mode="weekly", departments=("위생정책과",), categories=("보건", "문화"))
    subscriber_id = subscribe_and_confirm(db, prefs)
    send_welcomes(db, channel)
    (mail,) = smtp.to(ADDRESS)
    assert_wire_format(mail.raw)
    message = parse(mail.raw)
    assert "환영" in str(message["Subject"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "위생정책과" in part and "문화, 보건" in part
        assert "매주 월요일 8시" in part
        assert "모든 보도자료" not in part
    (preferences,) = re.findall(r"https://press\.example\.kr/preferences/\S+", text)
    assert f'href="{preferences}"' in html
    (row,) = welcome_rows(db)
    assert row.status == "succeeded"
    (attempt,) = attempts_of(db, row.target)
    assert attempt.outcome == "succeeded" and attempt.message_id == message["Message-ID"]
    send_welcomes(db, channel)
    assert len(smtp.to(ADDRESS)) == 1, "sent once"
    with db.session() as session:
        assert session.scalars(select(NewsletterSend)).all() == [], "not a newsletter"
    assert subscriber_id


def test_every_release_immediately(db: Database, channel: EmailChannel, smtp: MailServer) -> None:
    subscribe_and_confirm(db, Preferences())
    send_welcomes(db, channel)
    text = parse(smtp.to(ADDRESS)[0].raw).get_body(("plain",)).get_content()
    assert "모든 보도자료" in text and "나올 때마다 바로" in text


def test_a_suppressed_address_is_not_welcomed(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    subscriber_id = subscribe_and_confirm(db, Preferences())
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        subscriber.status = "suppressed"
    send_welcomes(db, channel)
    assert smtp.to(ADDRESS) == []
    (row,) = welcome_rows(db)
    (attempt,) = attempts_of(db, row.target)
    assert attempt.error_class == "E_ADDRESS_SUPPRESSED"


def test_the_welcome_is_in_the_subscribers_language(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    korean = subscribe_and_confirm(db, Preferences(mode="daily"))
    english = subscribe_and_confirm(db, Preferences(), address="visitor@example.org")
    with db.session() as session:
        subscriber = session.get(Subscriber, english)
        assert subscriber is not None
        subscriber.language = "en"
    send_welcomes(db, channel)
    ko = parse(smtp.to(ADDRESS)[0].raw)
    en = parse(smtp.to("visitor@example.org")[0].raw)
    assert ko["Content-Language"] == "ko" and en["Content-Language"] == "en"
    assert "매일 8시" in ko.get_body(("plain",)).get_content()
    text = en.get_body(("plain",)).get_content()
    assert "Welcome" in str(en["Subject"]) and "every press release" in text
    assert not re.search("[가-힣]", text.replace("대구광역시 보도자료", "")), text
    assert korean != english


def test_the_text_part_lists_its_links_at_the_end(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    subscribe_and_confirm(db, Preferences())
    send_welcomes(db, channel)
    message = parse(smtp.to(ADDRESS)[0].raw)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    body, _, listing = text.rpartition("\n\n링크\n")
    assert "https://" not in body, "no address inside the sentences"
    numbered = re.findall(r"^\[(\d+)\] (\S+)$", listing, re.M)
    assert [n for n, _ in numbered] == [str(i) for i in range(1, len(numbered) + 1)]
    html = message.get_body(("html",)).get_content()
    assert set(re.findall(r'href="([^"]+)"', html)) == {url for _, url in numbered}
