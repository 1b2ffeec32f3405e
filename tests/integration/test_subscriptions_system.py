"""The resident's whole flow against `syndicator run` (web, Celery worker, beat as
processes) and a real SMTP server: subscribe, confirmation mail, confirm, welcome, publish,
newsletter, one-click unsubscribe, then no more mail. (test_newsletter_flow.py runs the
same flow in-process, calling the channel directly.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syndicator.store.db import Database
from syndicator.store.models import Delivery, OutboxEntry
from tests.factories import make_event
from tests.mail_server import MailServer, Received, mails_to, system_with_mail
from tests.system import RunningSystem, wait_for

ADDRESS = "resident@example.org"


@pytest.fixture
def mail_system(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
) -> Iterator[tuple[RunningSystem, MailServer]]:
    with system_with_mail(
        tmp_path, database_url, redis_url, cms_secret, "system-test-key"
    ) as running:
        yield running


def _mails(smtp: MailServer, count: int) -> list[Received]:
    return mails_to(smtp, ADDRESS, count)


def _links(mail: Received) -> list[str]:
    body = mail.parsed().get_body(("plain",))
    assert body is not None
    return re.findall(r"https?://\S+", str(body.get_content()))


def _email_settled(database_url: str, event_id: str) -> dict[str, list[str]] | None:
    """The event's email delivery statuses, once planned and none is left to do (a dict,
    so that "no email rows at all" still counts as settled)."""
    with Database(database_url) as db, db.session() as session:
        entry = session.scalars(select(OutboxEntry).where(OutboxEntry.event_id == event_id)).one()
        statuses = list(
            session.scalars(
                select(Delivery.status).where(
                    Delivery.event_id == event_id, Delivery.channel == "email"
                )
            )
        )
    settled = entry.planned_at is not None and not {"pending", "in_progress"} & set(statuses)
    return {"statuses": statuses} if settled else None


def test_subscribe_confirm_receive_and_leave_through_the_running_system(
    mail_system: tuple[RunningSystem, MailServer], database_url: str
) -> None:
    system, smtp = mail_system
    answer = system.http.post(f"{system.url}/subscriptions", json={"email": ADDRESS})
    assert answer.status_code == 202, answer.text
    (confirmation,) = _mails(smtp, 1)
    (confirm,) = [link for link in _links(confirmation) if "/subscriptions/confirm/" in link]
    assert system.http.get(confirm).status_code == 200  # a scanner's GET changes nothing
    assert system.http.post(confirm).status_code == 200
    assert system.http.post(confirm).status_code == 200  # pressed twice: welcomed once

    # The sweeper hands the welcome's row to the worker: mailed without a publish.
    welcome = _mails(smtp, 2)[1].parsed()
    assert "환영" in str(welcome["Subject"])
    preferences = [link for link in _links(_mails(smtp, 2)[1]) if "/preferences/" in link]
    assert len(preferences) == 1

    published = system.publish(make_event(901))
    assert published.status_code == 202, published.text
    newsletter = _mails(smtp, 3)[2].parsed()
    assert newsletter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = re.search(
        r"<(https?://[^>]+/unsubscribe/[^>]+)>", str(newsletter["List-Unsubscribe"])
    )
    assert one_click is not None

    # What a mail client does (RFC 8058): a bare POST, no cookie, no session.
    left = httpx.post(
        one_click.group(1),
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert left.status_code == 200

    second = system.publish(make_event(902))
    assert second.status_code == 202
    event_id = second.json()["event_id"]
    statuses = wait_for(
        lambda: _email_settled(database_url, event_id), 90, "the second release's email planned"
    )
    assert "succeeded" not in statuses["statuses"]
    assert len(smtp.to(ADDRESS)) == 3, [m.parsed()["Subject"] for m in smtp.to(ADDRESS)]
