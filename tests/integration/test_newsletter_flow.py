"""The whole flow, as a resident lives it, against a real SMTP server (aiosmtpd):
subscribe, confirmation mail, confirm, welcome, publish, newsletter, one-click POST, no
more mail."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.config import Settings
from syndicator.delivery.runner import Enqueue, plan_event, run_due
from syndicator.ledger.claims import due_for_retry
from syndicator.store.db import Database
from syndicator.web.app import create_app
from tests.live_server import serve
from tests.mail_server import MailServer, Received, running_mail_server
from tests.newsletter_support import ledger, publish
from tests.unit.mail.support import assert_wire_format, parse

ADDRESS = "resident@example.org"


def wait_for_mail(smtp: MailServer, count: int, seconds: float = 20.0) -> list[Received]:
    deadline = time.monotonic() + seconds
    while len(smtp.to(ADDRESS)) < count:
        assert time.monotonic() < deadline, f"{count} mails never arrived"
        time.sleep(0.05)
    return smtp.to(ADDRESS)


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


def newsletter(db: Database, settings: Settings, release_id: int) -> None:
    """What the worker does for a publish: plan the email rows and send them."""
    channel = EmailChannel(ChannelContext(settings=settings, db=db))
    queued: list[Enqueue] = []
    plan_event(db, {"email": channel}, publish(db, release_id), queued.append)
    run_due(db, channel, [i for item in queued for i in item.delivery_ids])
    channel.close()


def welcome_due(db: Database, settings: Settings) -> None:
    """What the sweeper does with the welcome a confirmation planned: send the due rows."""
    channel = EmailChannel(ChannelContext(settings=settings, db=db))
    with db.session() as session:
        due = due_for_retry(session).get("email", [])
    run_due(db, channel, due)
    channel.close()


def test_subscribe_confirm_receive_and_leave_with_one_click(
    app_settings: Settings, smtp: MailServer
) -> None:
    settings = app_settings.with_(smtp_url=smtp.url)
    with (
        serve(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
        Database(settings.database_url) as db,
    ):
        answer = http.post("/subscriptions", json={"email": ADDRESS, "mode": "immediate"})
        assert answer.status_code == 202, answer.text
        (confirmation,) = wait_for_mail(smtp, 1)
        text = parse(confirmation.raw).get_body(("plain",)).get_content()
        (confirm,) = re.findall(r"https://press\.example\.kr/subscriptions/confirm/\S+", text)
        path = confirm.removeprefix(settings.base_url)
        assert http.get(path).status_code == 200  # a page with a button: not yet confirmed
        newsletter(db, settings, 1)
        assert len(smtp.to(ADDRESS)) == 1, "nothing before confirming"
        assert http.post(path).status_code == 200
        assert http.post(path).status_code == 200  # pressed twice: welcomed once

        welcome_due(db, settings)
        (_, welcome) = wait_for_mail(smtp, 2)
        assert "환영" in str(parse(welcome.raw)["Subject"])
        welcome_due(db, settings)

        newsletter(db, settings, 2)
        (_, _, mail) = wait_for_mail(smtp, 3)
        assert_wire_format(mail.raw)
        message = parse(mail.raw)
        assert message["To"] == ADDRESS
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        one_click = re.findall(r"<(https://[^>]+)>", str(message["List-Unsubscribe"]))[0]
        html = message.get_body(("html",)).get_content()
        assert f'href="{one_click}"' in html, "the visible link is the same"

        # What a mail client does (RFC 8058): a bare POST, no cookie, no session.
        left = httpx.post(
            url + one_click.removeprefix(settings.base_url),
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        assert left.status_code == 200
        newsletter(db, settings, 3)
        assert len(smtp.to(ADDRESS)) == 3, "no more mail"
        assert set(ledger(db).values()) == {"succeeded"}
