"""What a resident sees, in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.config import load_settings
from syndicator.events.files import read_events
from syndicator.feeds.publish import rebuild_all
from syndicator.intake.accept import import_events
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app
from tests.live_server import serve
from tests.services import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DEMO = Path(__file__).resolve().parents[2] / "demo" / "releases"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)

# Without these, Chromium reaches for Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str, redis_url: str) -> Iterator[str]:
    port = free_port()
    # Feeds carry absolute links built from the base URL: render them for this server.
    settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
            "SYNDICATOR_DATABASE_URL": sqlite_url,
            "SYNDICATOR_REDIS_URL": redis_url,
            "SYNDICATOR_BASE_URL": f"http://127.0.0.1:{port}",
        }
    )
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    import_events(db, read_events([DEMO]))
    rebuild_all(db, settings)
    db.dispose()
    with serve(create_app(settings), port) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="ko-KR")
        yield context.new_page()
        context.close()
        browser.close()


def test_resident_finds_the_newest_release_and_subscribes_to_a_department(site, page, tmp_path):
    page.goto(site + "/")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("h1").inner_text() == "대구광역시 보도자료"
    first_row = page.locator("tbody tr").first
    assert "대구, 이용기술의 챔피언을 찾아라!" in first_row.inner_text()
    feeds = page.locator('link[rel="alternate"]')
    assert feeds.count() == 3
    assert {feeds.nth(i).get_attribute("type") for i in range(3)} == {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    }
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

    page.get_by_role("link", name="부서별·분야별 피드").click()
    page.wait_for_url("**/feeds/")
    assert "피드 구독" in page.locator("h1").inner_text()
    row = page.locator("tr", has_text="위생정책과")
    href = row.get_by_role("link", name="RSS").get_attribute("href")
    assert href and href.startswith(site + "/feeds/departments/")
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert "대구, 이용기술의 챔피언을 찾아라!" in answer.text()
    page.screenshot(path=str(tmp_path / "feeds.png"), full_page=True)
