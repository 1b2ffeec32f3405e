"""A resident whose mail bounced, or who reported it as spam, reads why on their
preferences page and asks to receive again, in Debian's Chromium: the page explains in
Korean, offers nothing but coming back, and coming back is a fresh confirmation mail
(double opt-in again), sent through a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from syndicator.config import Settings, load_settings
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import AuditEntry, Subscriber, utcnow
from syndicator.subscriptions.states import RESIDENT_ACTOR
from syndicator.subscriptions.tokens import preferences_url
from syndicator.web.app import create_app
from tests.integration.site_browser import CHROMIUM, axe_source, browser_page, fails_axe
from tests.live_server import serve
from tests.mail_server import MailServer, Received, mails_to, running_mail_server
from tests.newsletter_support import add_subscriber
from tests.services import free_port

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="NO BROWSER: Chromium is not installed (apt-get install chromium); "
    "the preferences page was not tested in a browser",
)

BOUNCED = "bounced@example.org"
COMPLAINED = "complained@example.org"


@dataclass(frozen=True)
class Residents:
    url: str
    settings: Settings
    db: Database
    smtp: MailServer
    ids: dict[str, int]


def _suppress(db: Database, address: str, kind: str, language: str = "ko") -> int:
    subscriber_id = add_subscriber(db, address, status="suppressed", mode="daily")
    with db.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        row.suppressed_kind, row.suppressed_at, row.language = kind, utcnow(), language
    return subscriber_id


@pytest.fixture
def residents(tmp_path: Path, sqlite_url: str, redis_url: str) -> Iterator[Residents]:
    port = free_port()
    with running_mail_server() as smtp:
        settings = load_settings(
            {
                "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
                "SYNDICATOR_DATABASE_URL": sqlite_url,
                "SYNDICATOR_REDIS_URL": redis_url,
                "SYNDICATOR_BASE_URL": f"http://127.0.0.1:{port}",
                "SYNDICATOR_TOKEN_KEYS": "browser-test-key",
                "SYNDICATOR_SMTP_URL": smtp.url,
            }
        )
        upgrade(sqlite_url)
        with Database(sqlite_url) as db:
            ids = {
                "hard_bounce": _suppress(db, BOUNCED, "hard_bounce"),
                "complaint": _suppress(db, COMPLAINED, "complaint"),
                "english": _suppress(db, "en@example.org", "soft_bounce", language="en"),
            }
            with serve(create_app(settings), port) as url:
                yield Residents(url, settings, db, smtp, ids)


def _link(mail: Received, part: str) -> str:
    body = mail.parsed().get_body(("plain",))
    assert body is not None
    links = re.findall(r"https?://\S+", str(body.get_content()))
    return next(link for link in links if part in link)


def _subscriber(db: Database, subscriber_id: int) -> Subscriber:
    with db.read_session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        session.expunge(row)
    return row


def test_a_bounced_resident_reads_why_and_comes_back_through_a_confirmation(
    residents: Residents,
):
    subscriber_id = residents.ids["hard_bounce"]
    with browser_page() as page:
        page.goto(preferences_url(residents.settings, subscriber_id, 0))
        heading = page.get_by_role("heading", name="메일이 반송되어 발송을 멈췄습니다.")
        assert heading.is_visible()
        assert "메일함이 가득 찼거나" in page.locator("section.suppressed").inner_text()
        assert page.get_by_role("button", name="구독 해지").count() == 0
        assert fails_axe(page, axe_source()) == []
        assert page.csp_violations == []
        assert residents.smtp.to(BOUNCED) == [], "nothing is mailed before they ask"

        page.get_by_role("button", name="다시 받기").click()
        assert page.locator("h1").inner_text() == "메일을 확인해 주세요"
        assert _subscriber(residents.db, subscriber_id).status == "pending"

        (confirmation,) = mails_to(residents.smtp, BOUNCED, 1)
        page.goto(_link(confirmation, "/subscriptions/confirm/"))
        page.get_by_role("button", name="구독 확인").click()
        assert page.locator("h1").inner_text() == "구독이 확인되었습니다"
    row = _subscriber(residents.db, subscriber_id)
    assert (row.status, row.suppressed_kind, row.mode) == ("active", None, "daily")
    with residents.db.read_session() as session:
        entries = [
            (a.who, a.action, a.target, a.detail) for a in session.scalars(select(AuditEntry))
        ]
    assert entries == [
        (RESIDENT_ACTOR, "unsuppress", f"subscriber:{subscriber_id}", "was hard_bounce")
    ]


def test_a_complaint_is_explained_as_one(residents: Residents):
    with browser_page() as page:
        page.goto(preferences_url(residents.settings, residents.ids["complaint"], 0))
        assert page.get_by_role(
            "heading", name="스팸 신고가 접수되어 발송을 멈췄습니다."
        ).is_visible()
        assert "스팸으로 신고하여" in page.locator("section.suppressed").inner_text()
        assert page.get_by_role("button", name="다시 받기").is_visible()
        assert fails_axe(page, axe_source()) == []


def test_an_english_residents_page_explains_in_english(residents: Residents):
    with browser_page(locale="en-US") as page:
        page.goto(preferences_url(residents.settings, residents.ids["english"], 0))
        name = "Mail to you bounced, so we stopped sending."
        assert page.get_by_role("heading", name=name).is_visible()
        assert page.get_by_role("button", name="Receive again").is_visible()
        assert fails_axe(page, axe_source()) == []
