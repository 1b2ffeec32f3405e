"""The partners' portal in Debian's Chromium (Playwright), in Korean and in English: a
link opens the portal with the token gone from the address bar, a URL the SSRF guard
refuses is shown beside its field, a rotated secret is shown once, and every page passes
axe with no Content-Security-Policy violation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.web.app import create_app
from tests.integration.console_support import deliver_webhooks, release
from tests.integration.site_browser import (
    CHROMIUM,
    axe_source,
    browser_page,
    fails_axe,
    horizontal_overflow,
)
from tests.live_server import serve
from tests.services import free_port

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)
ADMIN = {"Authorization": "Bearer test-admin-token"}


@dataclass
class Site:
    url: str
    link: str


@pytest.fixture
def site(app_settings: Settings) -> Iterator[Site]:
    port = free_port()
    settings = app_settings.with_(base_url=f"http://127.0.0.1:{port}")
    with serve(create_app(settings), port) as url, Database(settings.database_url) as db:
        with httpx.Client(base_url=url, headers=ADMIN, timeout=30) as admin:
            for name, address in (
                ("파트너 가", "https://93.184.215.14/a"),
                ("파트너 나", "https://93.184.215.15/b"),
            ):
                assert (
                    admin.post("/api/partners", json={"name": name, "url": address}).status_code
                    == 201
                )
            deliver_webhooks(db, release(db))
            link = admin.post("/api/partners/1/portal-link").json()["url"]
        yield Site(url, link)


@pytest.mark.parametrize(
    ("locale", "heading", "refused"),
    [
        ("ko-KR", "파트너 포털", "이 주소로는 보낼 수 없습니다"),
        ("en-US", "Partner portal", "We cannot send to this URL"),
    ],
)
def test_the_portal_in_each_language(site: Site, locale: str, heading: str, refused: str):
    source = axe_source()
    with browser_page(locale=locale) as page:
        page.goto(site.link)
        assert page.url == site.url + "/portal"  # the token is gone from the address bar
        assert heading in page.inner_text("h1")
        assert "93.184.215.15" not in page.content()  # partner B's URL
        found = {"/portal": fails_axe(page, source)}

        page.fill("#url", "http://10.0.0.1/hooks")
        page.click("form[action='/portal/url'] button")
        error = page.locator("#url-error")
        assert refused in error.inner_text()
        assert page.get_attribute("#url", "aria-invalid") == "true"
        found["/portal/url (refused)"] = fails_axe(page, source)

        page.click("form[action='/portal/secret'] button")
        assert page.inner_text("#secret").startswith("whsec_")
        found["/portal/secret"] = fails_axe(page, source)

        page.goto(site.url + "/portal/deliveries")
        assert page.locator("section.delivery").count() == 1  # partner A's one delivery
        found["/portal/deliveries"] = fails_axe(page, source)
        page.set_viewport_size({"width": 360, "height": 800})
        assert horizontal_overflow(page) == 0
        assert {path: v for path, v in found.items() if v} == {}
        assert page.csp_violations == []  # type: ignore[attr-defined]
