"""The board's pure renders: sizes, page blocks, page links, a scope page's feeds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.feeds.scopes import Scope
from syndicator.store.board import BoardFilter
from syndicator.web.board.render import BoardView, attachment_size, page_numbers, render_board
from syndicator.web.html.feed_sets import feed_sets


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


def test_page_links_keep_the_filter_and_the_search(site_settings):
    html = render_board(site_settings, _view(department="wisaeng", query="교통 안내"), [])
    assert (
        'href="/?department=wisaeng&amp;q=%EA%B5%90%ED%86%B5+%EC%95%88%EB%82%B4&amp;page=13"'
        in html
    )
    assert 'aria-current="page">12</a>' in html
    assert ">이전</a>" in html and ">다음</a>" in html
    assert '<option value="wisaeng" selected>위생정책과</option>' in html


def test_scope_pages_offer_their_feeds_first(site_settings):
    scope = Scope("category", "gyotong", "교통")
    sets = feed_sets(site_settings, scope)
    assert [s.title for s in sets] == ["대구광역시 보도자료: 교통 분야", "대구광역시 보도자료"]
    assert sets[0].links[0].url == "https://press.example.kr/feeds/categories/gyotong/rss.xml"
