"""The web copy of each newsletter and digest: linked from both parts of the message as
"웹에서 보기", served by the site with nothing personal in it, the same URL for everyone
who received the same content. Mail through a real SMTP server (aiosmtpd), read back with
``email``; pages from a real uvicorn."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import func, select

from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.config import Settings
from syndicator.delivery.runner import Enqueue, load_event, plan_event, run_due
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.mail.digests import due_runs, mark_run_planned
from syndicator.store.db import Database
from syndicator.store.models import NewsletterCopy, utcnow
from syndicator.web.app import create_app
from tests.factories import make_event
from tests.live_server import serve
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import add_subscriber, publish
from tests.unit.mail.support import parse

COPY_URL = re.compile(r"https://press\.example\.kr/newsletters/[A-Za-z0-9_-]{20}")


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def world(app_settings: Settings, smtp: MailServer) -> Iterator[tuple[Settings, Database, str]]:
    settings = app_settings.with_(smtp_url=smtp.url)
    with serve(create_app(settings)) as url, Database(settings.database_url) as db:
        yield settings, db, url


def send(db: Database, settings: Settings, event_ids: list[str]) -> None:
    channel = EmailChannel(ChannelContext(settings=settings, db=db))
    for event_id in event_ids:
        event = load_event(db, event_id)
        assert event is not None
        queued: list[Enqueue] = []
        plan_event(db, {"email": channel}, event, queued.append)
        mark_run_planned(db, event.id)
        run_due(db, channel, [i for item in queued for i in item.delivery_ids])
    channel.close()


def web_copy(message: EmailMessage) -> str:
    """The "웹에서 보기" link, the same in the HTML part and the text part's references."""
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    (in_html,) = re.findall(r'<a href="([^"]+)"[^>]*>웹에서 보기</a>', html)
    number = re.search(r"웹에서 보기 \[(\d+)\]", text)
    assert number is not None, text
    (in_text,) = re.findall(rf"^\[{number.group(1)}\] (\S+)$", text, re.M)
    assert in_html == in_text and COPY_URL.fullmatch(in_html)
    return in_html


def test_a_release_newsletter_links_one_shareable_copy(
    world: tuple[Settings, Database, str], smtp: MailServer
) -> None:
    settings, db, url = world
    add_subscriber(db, "one@example.org")
    add_subscriber(db, "two@example.org")
    event = publish(db, 7, title="대구 & 경북 <합동> 안내")
    send(db, settings, [event.id])
    one, two = (parse(smtp.to(a)[0].raw) for a in ("one@example.org", "two@example.org"))
    link = web_copy(one)
    assert web_copy(two) == link, "one copy for everyone"

    page = httpx.get(url + link.removeprefix(settings.base_url), timeout=30)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "public, max-age=300"
    assert page.headers["content-type"].startswith("text/html")
    assert "대구 &amp; 경북 &lt;합동&gt; 안내" in page.text
    assert f'href="{settings.base_url}/releases/7"' in page.text
    for personal in ("one@example.org", "two@example.org", "/unsubscribe/", "/preferences/"):
        assert personal not in page.text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(NewsletterCopy)) == 1


def test_a_retracted_release_shows_a_notice_in_its_copy(
    world: tuple[Settings, Database, str], smtp: MailServer
) -> None:
    settings, db, url = world
    add_subscriber(db, "one@example.org")
    send(db, settings, [publish(db, 8, summary="곧 철회될 요약").id])
    link = web_copy(parse(smtp.to("one@example.org")[0].raw))
    retraction = make_event(8, type="release.retracted")
    retraction["reason"] = "오류"
    with db.session() as session:
        store_event(
            session,
            CmsEvent.model_validate(retraction),
            webhook_id="msg_retract_8",
            source="hook",
            enqueue=False,
        )
    page = httpx.get(url + link.removeprefix(settings.base_url), timeout=30)
    assert page.status_code == 200
    assert "철회된 보도자료입니다." in page.text and "곧 철회될 요약" not in page.text


def test_digests_of_the_same_items_share_a_copy_and_others_do_not(
    world: tuple[Settings, Database, str], smtp: MailServer
) -> None:
    settings, db, url = world
    add_subscriber(db, "a@example.org", mode="daily")
    add_subscriber(db, "b@example.org", mode="daily")
    add_subscriber(db, "c@example.org", mode="daily", departments=["교통정책과"])
    publish(db, 1)
    publish(db, 2, department="교통정책과")
    runs = due_runs(db, settings.digest_hour, utcnow() + timedelta(minutes=2))
    send(db, settings, runs)
    a, b, c = (parse(smtp.to(f"{n}@example.org")[0].raw) for n in "abc")
    assert web_copy(a) == web_copy(b)
    assert web_copy(c) != web_copy(a)
    page = httpx.get(url + web_copy(a).removeprefix(settings.base_url), timeout=30)
    assert page.status_code == 200
    assert "보도자료 2건" in page.text
    only_traffic = httpx.get(url + web_copy(c).removeprefix(settings.base_url), timeout=30).text
    assert "보도자료 1건" in only_traffic and "(1)</a>" not in only_traffic
    for personal in ("a@example.org", "c@example.org", "교통정책과 구독"):
        assert personal not in page.text


@pytest.mark.parametrize("path", ["AAAAAAAAAAAAAAAAAAAA", "1", "AAAAAAAAAA.AAAAAAAAA", "x" * 300])
def test_an_unknown_copy_is_the_sites_404_page(
    world: tuple[Settings, Database, str], path: str
) -> None:
    url = world[2]
    page = httpx.get(f"{url}/newsletters/{path}", timeout=30)
    assert page.status_code == 404
    assert "뉴스레터를 찾을 수 없습니다" in page.text
    assert page.headers["content-type"].startswith("text/html")
