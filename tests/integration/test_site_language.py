"""The residents' site in Korean and English over real HTTP: negotiation, the switch, the
cookie, the headers a cache keys on, and pages kept rendered once per language."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.store.db import Database
from tests.factories import make_event

ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}
KOREAN = {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8"}
TITLE = "대구시 청년 일자리 지원 확대"


@pytest.fixture
def site(client: httpx.Client, store: Database) -> httpx.Client:
    with store.session() as session:
        for number in (1, 2):
            event = make_event(number, title=f"{TITLE} {number}", department="청년정책과")
            store_event(
                session,
                CmsEvent.model_validate(event),
                webhook_id=f"msg_{number}",
                source="hook",
                enqueue=False,
            )
    return client


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found, html[:200]
    return found.group(1)


def _vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


def test_korean_by_default_with_a_link_to_english(site: httpx.Client) -> None:
    page = site.get("/")
    assert page.status_code == 200
    assert _lang(page.text) == "ko"
    assert page.headers["content-language"] == "ko"
    assert {"accept-language", "cookie"} <= _vary(page)
    assert ">보도자료</a>" in page.text and "본문 바로가기" in page.text
    assert 'href="?lang=en" lang="en" hreflang="en">English</a>' in page.text
    assert "set-cookie" not in page.headers


def test_accept_language_english(site: httpx.Client) -> None:
    page = site.get("/", headers=ENGLISH)
    assert _lang(page.text) == "en"
    assert page.headers["content-language"] == "en"
    html = page.text
    for chrome in ("Skip to content", ">Press releases</a>", "Newsletter", "Search"):
        assert chrome in html
    assert "본문 바로가기" not in html and ">찾기</button>" not in html
    # The releases stay as the city wrote them, marked as Korean.
    assert re.search(rf'<td class="col-title" lang="ko"><a [^>]+>{TITLE} 2</a>', html)
    assert 'href="?lang=ko" lang="ko" hreflang="ko">한국어</a>' in html
    assert _lang(site.get("/", headers=KOREAN).text) == "ko"


def test_a_release_page_in_english(site: httpx.Client) -> None:
    page = site.get("/releases/1", headers=ENGLISH)
    assert page.status_code == 200 and _lang(page.text) == "en"
    assert f"{TITLE} 1" in page.text
    assert '<article class="release" lang="ko">' in page.text
    assert "(Korea time)" in page.text and "See the original on" in page.text


def test_lang_in_the_query_wins_keeps_the_other_parameters_and_is_remembered(
    site: httpx.Client,
) -> None:
    page = site.get("/", params={"q": "청년", "lang": "en"}, headers=KOREAN)
    assert _lang(page.text) == "en"
    assert "lang=en" in page.headers["set-cookie"]
    assert "Max-Age=" in page.headers["set-cookie"]
    # The switch back keeps the search.
    assert 'href="?q=%EC%B2%AD%EB%85%84&amp;lang=ko"' in page.text
    # The cookie carries the choice to the next page (Secure: the site is https).
    assert "Secure" in page.headers["set-cookie"]
    remembered = {**KOREAN, "Cookie": "lang=en"}
    assert _lang(site.get("/releases/1", headers=remembered).text) == "en"
    assert _lang(site.get("/", params={"lang": "ko"}, headers=remembered).text) == "ko"
    assert _lang(site.get("/", headers={**ENGLISH, "Cookie": "lang=ko"}).text) == "ko"
    # Not a language of ours: ignored, and nothing remembered.
    unknown = site.get("/", params={"lang": "fr"}, headers={**ENGLISH, "Cookie": "lang=fr"})
    assert _lang(unknown.text) == "en" and "set-cookie" not in unknown.headers


def test_not_found_pages_in_english_escape_what_was_asked(site: httpx.Client) -> None:
    missing = site.get("/releases/999999", headers=ENGLISH)
    assert missing.status_code == 404 and _lang(missing.text) == "en"
    assert "Press release not found" in missing.text and "No press release 999999" in missing.text
    hostile = site.get("/departments/<script>x", headers=ENGLISH)
    assert hostile.status_code == 404 and _lang(hostile.text) == "en"
    assert "There is no department called ‘&lt;script&gt;x’" in hostile.text
    assert "<script>x" not in hostile.text
    korean = site.get("/categories/<script>x")
    assert "분야를 찾을 수 없습니다" in korean.text and "‘&lt;script&gt;x’" in korean.text


def test_feed_pages_are_kept_once_per_language(site: httpx.Client) -> None:
    for _ in range(2):  # the second round is served from each language's cache
        english = site.get("/feeds/", headers=ENGLISH)
        korean = site.get("/feeds/", headers=KOREAN)
        assert english.status_code == korean.status_code == 200
        assert _lang(english.text) == "en" and "Follow by feed" in english.text
        assert _lang(korean.text) == "ko" and "피드 구독" in korean.text
        assert english.headers["etag"] != korean.headers["etag"]
        assert {"accept-language", "cookie", "accept-encoding"} <= _vary(english)
        assert english.headers["content-language"] == "en"
    departments = site.get("/feeds/departments/", headers=ENGLISH)
    assert _lang(departments.text) == "en" and "Feeds by department" in departments.text


def test_the_subscribe_form_offers_english_mail_to_an_english_reader(site: httpx.Client) -> None:
    form = site.get("/subscribe", headers=ENGLISH)
    assert _lang(form.text) == "en" and "Email address" in form.text
    assert re.search(r'name="language" value="en" checked', form.text)
    korean = site.get("/subscribe", headers=KOREAN)
    assert re.search(r'name="language" value="ko" checked', korean.text)
    assert '<span lang="en">English</span>' in korean.text


def test_the_ops_console_is_left_as_it_is(site: httpx.Client) -> None:
    login = site.get("/ops/login", headers=ENGLISH)
    assert "content-language" not in login.headers


_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(
    str.strip  # a header value never starts or ends with a space
)
_TAGS = st.sampled_from(["en", "ko", "en-GB", "ko-KR", "fr", "*", "EN", "zh-Hant-TW", "", ";"])
_STRUCTURED = st.lists(
    st.tuples(_TAGS, st.one_of(st.none(), st.sampled_from(["0", "0.5", "1", "1.0", "x", "2"]))),
    max_size=5,
).map(lambda items: ", ".join(t if q is None else f"{t};q={q}" for t, q in items))


@hyp_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=st.one_of(_HEADER_TEXT, _STRUCTURED.map(str.strip)))
def test_any_accept_language_is_a_page_never_an_error(site: httpx.Client, header: str) -> None:
    site.cookies.clear()
    page = site.get("/", headers={"Accept-Language": header})
    assert page.status_code == 200
    language = _lang(page.text)
    assert page.headers["content-language"] == language
    if "en" not in header.lower():
        assert language == "ko"  # anything else falls back to Korean


def test_a_page_no_route_has_is_the_sites_not_found_page(site: httpx.Client) -> None:
    browser = {**ENGLISH, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = site.get("/no/such/page", headers=browser)
    assert page.status_code == 404 and _lang(page.text) == "en"
    assert "Page not found" in page.text and "content-language" in page.headers
    korean = site.get("/no/such/page", headers={**browser, **KOREAN})
    assert korean.status_code == 404 and "쪽을 찾을 수 없습니다" in korean.text
    # API clients, and a browser under /api/, keep the JSON answer.
    assert site.get("/no/such/page").json() == {"detail": "Not Found"}
    assert site.get("/api/no-such-thing", headers=browser).json() == {"detail": "Not Found"}
