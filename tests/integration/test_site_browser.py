"""The residents' site in Debian's Chromium (Playwright): the board, search, a release,
the subscribe flow with real mail, a 360 px phone, axe-core on every page, screenshots.

`make screenshots` runs this module with SYNDICATOR_SCREENSHOTS_DIR=docs/screenshots.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from syndicator.config import Settings, load_settings
from syndicator.events.files import read_events
from syndicator.events.schema import CmsEvent
from syndicator.feeds.publish import rebuild_all
from syndicator.intake.accept import import_events, store_event
from syndicator.mail.web_copies import release_copy, store_copy
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, Event, OutboxEntry, Subscriber
from syndicator.subscriptions import states
from syndicator.subscriptions.preferences import Preferences
from syndicator.subscriptions.tokens import confirm_url, preferences_url, unsubscribe_url
from syndicator.web.app import create_app
from tests.factories import make_event
from tests.integration.site_browser import (
    CHROMIUM,
    axe_source,
    browser_page,
    fails_axe,
    horizontal_overflow,
    screenshots_dir,
)
from tests.live_server import serve
from tests.mail_server import MailServer, Received, mails_to, system_with_mail
from tests.services import free_port
from tests.system import RunningSystem, wait_for

DEMO = Path(__file__).resolve().parents[2] / "demo" / "releases"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="NO BROWSER: Chromium is not installed (apt-get install chromium); "
    "the residents' site was not tested in a browser",
)


@dataclass(frozen=True)
class Site:
    url: str
    settings: Settings
    token_pages: tuple[str, ...]  # the pages a mail links to: tokens, a web copy


def _retract(db: Database, release_id: int) -> None:
    event = make_event(
        release_id,
        type="release.retracted",
        title="철회된 보도자료 예시",
        published_at="2022-10-01T09:00:00+09:00",
        updated_at="2022-10-02T09:00:00+09:00",
    )
    event["reason"] = "자료 오류로 철회합니다."
    with db.session() as session:
        store_event(
            session,
            CmsEvent.model_validate(event),
            webhook_id="msg_retract",
            source="hook",
            enqueue=False,
        )


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str, redis_url: str) -> Iterator[Site]:
    port = free_port()
    settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
            "SYNDICATOR_DATABASE_URL": sqlite_url,
            "SYNDICATOR_REDIS_URL": redis_url,
            "SYNDICATOR_BASE_URL": f"http://127.0.0.1:{port}",
            "SYNDICATOR_TOKEN_KEYS": "browser-test-key",
        }
    )
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    import_events(db, read_events([DEMO]))
    with db.session() as session:
        store_event(
            session,
            CmsEvent.model_validate(
                make_event(1, title="임시 보도자료", published_at="2022-10-01T09:00:00+09:00")
            ),
            webhook_id="msg_1",
            source="hook",
            enqueue=False,
        )
    _retract(db, 1)
    with db.session() as session:
        subscriber = states.request_subscription(
            session, "resident@example.org", Preferences(mode="daily")
        ).subscriber_id
    rebuild_all(db, settings)
    with db.session() as session:
        event = session.scalars(
            select(Event).where(Event.release_id == 867, Event.source == "import")
        ).first()
        assert event is not None
        newsletter = release_copy(event.id, "release.published", event.payload["release"])
    copy_url = store_copy(settings, db, newsletter)
    db.dispose()
    pages = (
        confirm_url(settings, subscriber, 0),
        preferences_url(settings, subscriber, 0),
        unsubscribe_url(settings, subscriber, 0),
        copy_url,
    )
    with serve(create_app(settings), port) as url:
        yield Site(url, settings, pages)


def test_board_filter_search_and_open_a_release(site: Site, tmp_path: Path):
    shots = screenshots_dir(tmp_path)
    with browser_page() as page:
        page.goto(site.url + "/")
        assert page.locator("html").get_attribute("lang") == "ko"
        assert page.locator("h1").inner_text() == "대구광역시 보도자료"
        headers = page.locator("table.board thead th").all_inner_texts()
        assert headers == ["번호", "제목", "날짜", "첨부", "부서"]
        assert page.locator("table.board tbody tr").count() == 15
        assert page.locator("table.board tbody tr").first.locator("td").first.inner_text() == "21"
        page.screenshot(path=str(shots / "board.png"), full_page=True)

        page.get_by_label("분야").select_option(label="문화")
        page.get_by_role("button", name="찾기").click()
        page.wait_for_url("**category=**")
        departments = page.locator("table.board td.col-title").all_inner_texts()
        assert len(departments) == 5 and any("오페라" in t for t in departments)

        page.get_by_label("검색어").fill("청년")
        page.get_by_role("button", name="찾기").click()
        page.wait_for_url("**q=**")
        titles = page.locator("table.board td.col-title").all_inner_texts()
        assert titles == ["청년 문화예술분야 프리랜서 대구에 모이자!"]

        page.get_by_label("분야").select_option(label="전체 분야")
        page.get_by_label("검색어").fill("지팡")  # part of 흰지팡이
        page.get_by_role("button", name="찾기").click()
        page.wait_for_url("**q=%EC%A7%80%ED%8C%A1**")
        page.get_by_role("link", name=re.compile("흰지팡이의 날")).click()
        page.wait_for_url("**/releases/863")
        assert "흰지팡이의 날" in page.locator("h1").inner_text()
        assert page.get_by_text("장애인복지과").first.is_visible()
        assert page.get_by_role("link", name=re.compile("공공누리 제1유형")).is_visible()
        assert page.get_by_role("link", name="대구광역시 누리집에서 원문 보기").is_visible()

        page.goto(site.url + "/releases/867")
        attachment = page.locator(".attachments li").first.inner_text()
        assert "867_보도자료.hwp" in attachment and "(28KB)" in attachment
        page.screenshot(path=str(shots / "release.png"), full_page=True)

        page.goto(site.url + "/releases/1")
        assert page.get_by_role("heading", name="철회된 보도자료입니다").is_visible()
        assert "자료 오류로 철회합니다." in page.locator(".notice").inner_text()
        assert page.csp_violations == []


def test_feed_urls_are_listed_with_copy_buttons_that_work(site: Site):
    with browser_page() as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.goto(site.url + "/categories/munhwa")
        alternates = page.locator('link[rel="alternate"]')
        hrefs = {alternates.nth(i).get_attribute("href") for i in range(alternates.count())}
        assert f"{site.url}/feeds/categories/munhwa/rss.xml" in hrefs
        assert f"{site.url}/feeds/feed.json" in hrefs and len(hrefs) == 6
        box = page.get_by_role("complementary", name="RSS 구독")
        assert f"{site.url}/feeds/categories/munhwa/atom.xml" in box.inner_text()
        box.get_by_role("button", name=re.compile("문화 분야 Atom")).click()
        assert page.evaluate("() => navigator.clipboard.readText()") == (
            f"{site.url}/feeds/categories/munhwa/atom.xml"
        )
        page.goto(site.url + "/feeds/departments/")
        assert page.locator("h1").inner_text() == "부서별 피드"
        assert page.locator("tbody tr").count() == 16


PAGES = (
    "/",
    "/?page=2",
    "/?q=%EB%8C%80%EA%B5%AC",
    "/?q=%EC%97%86%EB%8A%94%EB%82%B1%EB%A7%90",
    "/departments/munhwayesuljeongchaekgwa",
    "/categories/bogeon",
    "/releases/867",
    "/releases/1",
    "/releases/424242",
    "/feeds/",
    "/feeds/departments/",
    "/feeds/categories/",
    "/subscribe",
    "/subscribe/sent",
    "/no/such/page",
)


def _all_pages(site: Site, language: str = "ko") -> list[str]:
    """A mailed link's page is in its subscriber's language (Korean here) unless the
    request asks for another."""
    token_pages = [f"{url}?lang=en" if language == "en" else url for url in site.token_pages]
    return [site.url + path for path in PAGES] + token_pages


# Each language's page: the browser's locale (so its Accept-Language), what the page
# then says in <html lang>, and the form's words.
LANGUAGES = {
    "ko": ("ko-KR", "이메일 주소", "구독 신청"),
    "en": ("en-US", "Email address", "Subscribe"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_nothing_serious_on_any_page(site: Site, language: str):
    locale, email_label, subscribe = LANGUAGES[language]
    source = axe_source()
    found = {}
    with browser_page(locale=locale) as page:
        for url in _all_pages(site, language):
            page.goto(url)
            assert page.locator("html").get_attribute("lang") == language, url
            if violations := fails_axe(page, source):
                found[url] = violations
        # The form with its errors, too.
        page.goto(site.url + "/subscribe")
        page.get_by_label(email_label).fill("잘못된 주소")
        page.get_by_role("button", name=subscribe).click()
        assert page.locator("#email-error").is_visible()
        if violations := fails_axe(page, source):
            found["/subscribe (errors)"] = violations
    assert found == {}


def test_subscribing_on_the_english_form_chooses_english_mail(site: Site):
    with browser_page(locale="en-US") as page:
        page.goto(site.url + "/subscribe")
        assert page.get_by_label("English").is_checked()
        page.get_by_label("Email address").fill("visitor@example.org")
        page.get_by_role("button", name="Subscribe").click()
        page.wait_for_url("**/subscribe/sent")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text() == "Please check your mailbox"
    with Database(site.settings.database_url) as db, db.session() as session:
        language = session.scalar(
            select(Subscriber.language).where(Subscriber.email == "visitor@example.org")
        )
    assert language == "en"


def test_english_pages_fit_a_360_px_phone_too(site: Site):
    wide = {}
    with browser_page(width=360, height=740, locale="en-US") as page:
        for url in _all_pages(site, "en"):
            page.goto(url)
            assert page.locator("html").get_attribute("lang") == "en", url
            if overflow := horizontal_overflow(page):
                wide[url] = overflow
        # The language switch is a link a keyboard reaches, and it leads back to Korean.
        page.goto(site.url + "/")
        page.get_by_role("link", name="한국어").click()
        assert page.locator("html").get_attribute("lang") == "ko"
        assert page.url.endswith("/?lang=ko")
    assert wide == {}


def test_every_page_fits_a_360_px_phone(site: Site, tmp_path: Path):
    shots = screenshots_dir(tmp_path)
    wide = {}
    with browser_page(width=360, height=740) as page:
        for url in _all_pages(site):
            page.goto(url)
            if overflow := horizontal_overflow(page):
                wide[url] = overflow
        page.goto(site.url + "/")
        page.screenshot(path=str(shots / "board-360.png"), full_page=True)
        page.goto(site.url + "/subscribe")
        page.screenshot(path=str(shots / "subscribe.png"), full_page=True)
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="본문 바로가기")
        assert skip.evaluate("el => el === document.activeElement")
        assert skip.is_visible()
    assert wide == {}


# --- The whole subscribe flow against the running system ----------------------------------

ADDRESS = "browser-resident@example.org"


@pytest.fixture
def mail_system(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> Iterator[tuple[RunningSystem, MailServer]]:
    with system_with_mail(
        tmp_path, sqlite_url, redis_url, cms_secret, "browser-system-key"
    ) as running:
        yield running


def _mails(smtp: MailServer, count: int) -> list[Received]:
    return mails_to(smtp, ADDRESS, count)


def _link(mail: Received, part: str) -> str:
    body = mail.parsed().get_body(("plain",))
    assert body is not None
    links = re.findall(r"https?://\S+", str(body.get_content()))
    return next(link for link in links if part in link)


def test_after_a_one_click_unsubscribe_the_link_says_so_without_a_button(site: Site):
    """A mail client's one-click POST (RFC 8058), then the resident opens the same link."""
    leave = site.token_pages[2]
    with browser_page() as page:
        page.goto(leave)
        assert page.get_by_role("button", name="구독 해지").count() == 1  # before: the button
        one_click = page.request.post(
            leave,
            data="List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status == 200
        for _ in range(2):  # opened again, and reloaded
            page.goto(leave)
            assert page.locator("h1").inner_text() == "수신이 해지되었습니다"
            assert page.get_by_role("button").filter(has_text="해지").count() == 0
            assert page.locator("form").count() == 0


def test_subscribe_confirm_receive_and_unsubscribe_in_the_browser(mail_system):
    system, smtp = mail_system
    assert system.publish(make_event(900, categories=["교통"])).status_code == 202
    wait_for(lambda: system.get("/").text.count("/releases/900") or None, 60)
    with browser_page() as page:
        page.goto(system.url + "/subscribe")
        page.get_by_label("이메일 주소").fill(ADDRESS)
        page.get_by_label(re.compile("즉시")).check()
        page.get_by_role("button", name="구독 신청").click()
        page.wait_for_url("**/subscribe/sent")
        assert page.locator("h1").inner_text() == "메일을 확인해 주세요"

        (confirmation,) = _mails(smtp, 1)
        page.goto(_link(confirmation, "/subscriptions/confirm/"))
        page.get_by_role("button", name="구독 확인").click()
        assert page.locator("h1").inner_text() == "구독이 확인되었습니다"
        welcome = _mails(smtp, 2)[1]
        assert "환영" in str(welcome.parsed()["Subject"])

        assert system.publish(make_event(901)).status_code == 202
        newsletter = _mails(smtp, 3)[2]
        assert _link(newsletter, "/news/press/901")  # the release it announces

        # Its web copy, as anyone the resident forwards it to sees it.
        page.goto(_link(newsletter, "/newsletters/"))
        assert page.locator("html").get_attribute("lang") == "ko"
        assert page.get_by_role("heading", name=re.compile(r"\(901\)")).is_visible()
        assert page.get_by_role("link", name="보도자료 전문 보기").is_visible()
        assert ADDRESS not in page.content() and "/unsubscribe/" not in page.content()
        assert page.csp_violations == []

        page.goto(_link(newsletter, "/unsubscribe/"))
        page.get_by_role("button", name="구독 해지").click()
        assert page.locator("h1").inner_text() == "수신이 해지되었습니다"

    second = system.publish(make_event(902))
    assert second.status_code == 202
    event_id = second.json()["event_id"]
    wait_for(lambda: _email_planned(system, event_id), 90, "the last release's email planned")
    assert len(smtp.to(ADDRESS)) == 3


def _email_planned(system: RunningSystem, event_id: str) -> bool | None:
    """True once the event was fanned out and no email delivery is left to do."""
    with Database(system.env["SYNDICATOR_DATABASE_URL"]) as db, db.session() as session:
        planned = session.scalar(
            select(OutboxEntry.planned_at).where(OutboxEntry.event_id == event_id)
        )
        busy = session.scalar(
            select(Delivery.id).where(
                Delivery.event_id == event_id,
                Delivery.channel == "email",
                Delivery.status.in_(("pending", "in_progress")),
            )
        )
    return True if planned is not None and busy is None else None
