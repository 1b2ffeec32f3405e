"""The board's pure parts: sizes, page blocks, page links, headers, CSRF tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from syndicator.config import load_settings
from syndicator.feeds.scopes import Scope
from syndicator.store.board import BoardFilter
from syndicator.web.csrf import COOKIE_NAME, from_this_site, issue_token, valid_token
from syndicator.web.html.feed_sets import feed_sets
from syndicator.web.html.pages import BoardView, attachment_size, page_numbers, render_board


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path),
            "SYNDICATOR_BASE_URL": "https://press.example.kr",
            "SYNDICATOR_TOKEN_KEYS": "unit-key",
        }
    )


@pytest.mark.parametrize(
    ("size", "label"),
    [(None, ""), (512, "512B"), (28672, "28KB"), (1024 * 1024 * 12 // 10, "1.2MB")],
)
def test_attachment_sizes_read_like_the_citys(size, label):
    assert attachment_size(size) == label


@given(st.integers(1, 5000), st.integers(1, 5000))
def test_the_pager_shows_the_block_holding_the_current_page(page, pages):
    page = min(page, pages)
    numbers = page_numbers(page, pages)
    assert page in numbers
    assert len(numbers) <= 10 and numbers.start % 10 == 1 and numbers.stop - 1 <= pages


def _view(**board) -> BoardView:
    return BoardView(
        board=BoardFilter(**board),
        page=12,
        total=1000,
        departments=[("wisaeng", "위생정책과")],
        categories=[("gyotong", "교통")],
    )


def test_page_links_keep_the_filter_and_the_search(settings):
    html = render_board(settings, _view(department="wisaeng", query="교통 안내"), [])
    assert (
        'href="/?department=wisaeng&amp;q=%EA%B5%90%ED%86%B5+%EC%95%88%EB%82%B4&amp;page=13"'
        in html
    )
    assert 'aria-current="page">12</a>' in html
    assert ">이전</a>" in html and ">다음</a>" in html
    assert '<option value="wisaeng" selected>위생정책과</option>' in html


def test_scope_pages_offer_their_feeds_first(settings):
    scope = Scope("category", "gyotong", "교통")
    sets = feed_sets(settings, scope)
    assert [s.title for s in sets] == ["대구광역시 보도자료: 교통 분야", "대구광역시 보도자료"]
    assert sets[0].links[0].url == "https://press.example.kr/feeds/categories/gyotong/rss.xml"


def _request(cookie: str = "", **headers: str) -> Request:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    if cookie:
        raw.append((b"cookie", f"{COOKIE_NAME}={cookie}".encode()))
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "https",
            "path": "/subscribe",
            "headers": raw,
            "server": ("press.example.kr", 443),
        }
    )


def test_a_csrf_token_is_valid_only_with_its_signed_cookie(settings):
    response = Response()
    token = issue_token(settings, _request(), response)
    cookie = Headers(raw=response.raw_headers)["set-cookie"].split(";")[0].split("=", 1)[1]
    assert valid_token(settings, _request(cookie), token)
    assert not valid_token(settings, _request(cookie), token + "x")
    assert not valid_token(settings, _request(f"{token}.forged"), token)
    assert not valid_token(settings, _request(), token)


def test_forms_from_other_sites_are_refused(settings):
    assert from_this_site(settings, _request(sec_fetch_site="same-origin"))
    assert not from_this_site(settings, _request(sec_fetch_site="cross-site"))
    assert not from_this_site(settings, _request(sec_fetch_site="same-site"))
    assert from_this_site(settings, _request(origin="https://press.example.kr"))
    assert not from_this_site(settings, _request(origin="https://evil.example"))
    assert from_this_site(settings, _request())  # a script, not a browser
