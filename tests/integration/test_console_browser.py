"""The ops console in Debian's Chromium (Playwright): log in, watch a page refresh in
place, act through the confirmation page, read the audit log, follow a release's story,
and open /docs with every request to another host refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from syndicator.config import Settings
from syndicator.ops.actions import pause_channel
from syndicator.store.db import Database
from syndicator.web.app import create_app
from tests.integration.console_support import add_partners, audit_rows, deliver_webhooks, release
from tests.integration.site_browser import (
    CHROMIUM,
    axe_source,
    browser_page,
    fails_axe,
    screenshots_dir,
)
from tests.live_server import serve
from tests.services import free_port

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)
TOKEN = "test-admin-token"
WAIT_MS = 30_000  # a refresh comes every 5 s; a loaded machine may take a few


@dataclass
class Site:
    url: str
    db: Database
    delivery_ids: list[int]


@pytest.fixture
def site(app_settings: Settings, tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    settings = app_settings.with_(base_url=f"http://127.0.0.1:{port}")
    with serve(create_app(settings), port) as url, Database(settings.database_url) as db:
        add_partners(db)
        ids = deliver_webhooks(db, release(db, 7))
        yield Site(url, db, ids)


@pytest.fixture
def page() -> Iterator[object]:
    with browser_page() as opened:
        yield opened


def _log_in(page, site: Site) -> None:
    page.goto(site.url + "/ops")
    assert "/ops/login" in page.url
    page.fill('input[name="who"]', "김운영")
    page.fill('input[name="token"]', TOKEN)
    page.click('button[type="submit"]')
    page.wait_for_url(site.url + "/ops")


def test_the_console_refreshes_in_place_and_audits_an_action(site, page, tmp_path):
    _log_in(page, site)
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("h1").inner_text() == "현황 (overview)"
    page.evaluate("window.__stillHere = 42")
    # Someone else pauses a channel: this page shows it at its next refresh.
    pause_channel(site.db, "다른 운영자", "webhooks")
    paused = page.locator('tr[data-channel="webhooks"] [data-state="paused"]')
    paused.wait_for(timeout=WAIT_MS)
    assert "다른 운영자" in paused.inner_text()
    assert page.evaluate("window.__stillHere") == 42  # no reload happened
    assert int(page.locator("body").get_attribute("data-refreshes") or 0) >= 1
    page.screenshot(path=str(screenshots_dir(tmp_path) / "ops-console.png"), full_page=True)

    page.locator('tr[data-channel="webhooks"] a.action').click()
    assert "/ops/confirm/resume" in page.url
    page.click("button.danger")
    assert "재개했습니다" in page.locator("p.done").inner_text()
    page.click('a[href="/ops/audit"]')
    first = page.locator("tr.audit-entry").first.inner_text()
    assert "김운영" in first and "resume" in first and "channel:webhooks" in first
    assert page.csp_violations == []
    assert [row[:2] for row in audit_rows(site.db)] == [
        ("다른 운영자", "pause"),
        ("console:김운영", "resume"),
    ]


def test_a_release_story_is_one_search_away_and_replays_from_it(site, page, tmp_path):
    _log_in(page, site)
    page.click('a[href="/ops/releases"]')
    page.fill('input[name="release"]', "7")
    page.click('form.find button[type="submit"]')
    page.wait_for_url(site.url + "/ops/releases/7")
    story = page.locator("#story")
    for target in ("partner:1", "partner:2", "partner:3"):
        assert target in story.inner_text()
    failed = page.locator(f'div[data-delivery="{site.delivery_ids[2]}"]')
    assert "HTTP 410 <b>gone</b>" in failed.inner_text()  # shown as text, not markup
    page.screenshot(path=str(screenshots_dir(tmp_path) / "ops-release.png"), full_page=True)
    failed.locator("a.action").click()
    page.click("button.danger")
    assert "다시 보냅니다" in page.locator("p.done").inner_text()
    assert audit_rows(site.db) == [("console:김운영", "replay", f"delivery:{site.delivery_ids[2]}")]
    assert page.csp_violations == []


def test_logging_out_ends_the_session_on_the_server(site, page):
    _log_in(page, site)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "syndicator_ops"]
    page.click('form[action="/ops/logout"] button[type="submit"]')
    page.wait_for_url(site.url + "/ops/login")
    page.goto(site.url + "/ops/audit")
    assert "/ops/login" in page.url  # the browser forgot the cookie ...
    page.context.add_cookies([cookie])  # ... and a copy of it opens nothing either
    page.goto(site.url + "/ops/audit")
    assert "/ops/login" in page.url
    with httpx.Client(base_url=site.url, timeout=30) as http:
        http.cookies.set("syndicator_ops", cookie["value"], path="/ops")
        assert http.get("/ops/failures").status_code == 401


CONSOLE_PAGES = (
    "/ops",
    "/ops/failures",
    "/ops/people",
    "/ops/releases",
    "/ops/releases/7",
    "/ops/outbox",
    "/ops/mail",
    "/ops/audit",
    "/ops/confirm/pause?target=email",
)


def test_every_console_page_passes_axe(site, page):
    source = axe_source()
    page.goto(site.url + "/ops/login")
    found = {"/ops/login": fails_axe(page, source)}
    _log_in(page, site)
    for path in CONSOLE_PAGES:
        page.goto(site.url + path)
        found[path] = fails_axe(page, source)
    assert {path: v for path, v in found.items() if v} == {}


def test_docs_render_swagger_ui_without_another_host(site, page):
    elsewhere: list[str] = []
    ours = urlsplit(site.url).netloc

    def only_ours(route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    page.goto(site.url + "/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=WAIT_MS)
    assert "syndicator" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock").first.wait_for(timeout=WAIT_MS)
    assert elsewhere == []
