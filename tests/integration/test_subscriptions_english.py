"""A foreign resident subscribes in English: the choice is stored, and the confirmation
mail (read back with the ``email`` parser) and their pages come in English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.models import Subscriber
from syndicator.subscriptions.tokens import make_token
from syndicator.web.app import create_app
from tests.live_server import serve
from tests.mail_server import MailServer, running_mail_server
from tests.system import wait_for
from tests.topics import name_topics

ADDRESS = "resident@example.org"
LINK = re.compile(r"https://press\.example\.kr/\S+")


@dataclass
class Site:
    http: httpx.Client
    inbox: MailServer
    db: Database
    settings: Settings


@pytest.fixture
def site(app_settings: Settings) -> Iterator[Site]:
    with running_mail_server() as inbox:
        configured = app_settings.with_(smtp_url=inbox.url)
        with (
            serve(create_app(configured)) as url,
            httpx.Client(base_url=url, timeout=30) as http,
            Database(configured.database_url) as db,
        ):
            name_topics(db)
            yield Site(http, inbox, db, configured)


def _subscriber(db: Database) -> Subscriber:
    with db.session() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == ADDRESS)).one()
        session.expunge(found)
        return found


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found
    return found.group(1)


def test_an_english_subscription_gets_english_mail_and_pages(site: Site) -> None:
    answer = site.http.post(
        "/subscriptions", json={"email": ADDRESS, "mode": "daily", "language": "en"}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["message"].startswith("We have your request")
    assert _subscriber(site.db).language == "en"

    (mail,) = wait_for(lambda: list(site.inbox.received) or None, 30)
    message = mail.parsed()
    assert message["Content-Language"] == "en"
    assert (
        str(message["Subject"])
        == "[대구광역시 보도자료] Please confirm your newsletter subscription"
    )
    text = message.get_body(("plain",)).get_content()
    assert "We received a request to subscribe to the 대구광역시 보도자료 newsletter" in text
    assert "valid for 72 hours" in text
    assert not re.search(r"[가-힣]", text.replace("대구광역시 보도자료", ""))
    html = message.get_body(("html",)).get_content()
    assert 'lang="en"' in html and "Confirm my subscription" in html
    (confirm,) = [link for link in LINK.findall(text) if "/subscriptions/confirm/" in link]
    path = confirm.removeprefix("https://press.example.kr")

    # The page the link opens is in the subscriber's language, whatever the browser says.
    page = site.http.get(path, headers={"Accept-Language": "ko"})
    assert _lang(page.text) == "en" and "Confirm subscription" in page.text
    done = site.http.post(path, headers={"Accept-Language": "ko"})
    assert done.status_code == 200 and _lang(done.text) == "en"
    assert "Your subscription is confirmed" in done.text
    assert _subscriber(site.db).status == "active"


def test_the_preferences_page_follows_and_changes_the_mail_language(site: Site) -> None:
    site.http.post("/subscriptions", json={"email": ADDRESS, "language": "en"})
    subscriber = _subscriber(site.db)
    path = f"/preferences/{make_token(site.settings, 'preferences', subscriber.id)}"
    page = site.http.get(path)
    assert _lang(page.text) == "en" and "Newsletter preferences" in page.text
    assert re.search(r'name="language" value="en" checked', page.text)
    # The switch on the page shows it in Korean without changing the mails.
    assert _lang(site.http.get(path, params={"lang": "ko"}).text) == "ko"
    site.http.cookies.clear()
    saved = site.http.post(path, data={"mode": "weekly", "language": "ko"})
    assert saved.status_code == 200, saved.text
    assert _subscriber(site.db).language == "ko"
    assert _lang(saved.text) == "ko"


@pytest.mark.parametrize("value", ["fr", "EN", "", 5, ["en"], None])
def test_the_language_must_be_ko_or_en(site: Site, value: object) -> None:
    answer = site.http.post("/subscriptions", json={"email": ADDRESS, "language": value})
    if value in ("", None):  # absent: Korean
        assert answer.status_code == 202
        assert _subscriber(site.db).language == "ko"
        return
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["language"]
    assert len(site.inbox.received) == 0
