"""A feed's home link is the board page of its scope."""

from pathlib import Path

from syndicator.config import load_settings
from syndicator.feeds.scopes import SITE, Scope
from syndicator.feeds.urls import html_url


def _settings(tmp_path: Path):
    return load_settings(
        {"SYNDICATOR_DATA_DIR": str(tmp_path), "SYNDICATOR_BASE_URL": "https://press.example.kr"}
    )


def test_site_feed_points_at_the_board(tmp_path):
    assert html_url(_settings(tmp_path), SITE) == "https://press.example.kr/"


def test_scope_feeds_point_at_their_board_pages(tmp_path):
    settings = _settings(tmp_path)
    department = Scope("department", "wisaengjeongchaekgwa", "위생정책과")
    category = Scope("category", "gyeongje", "경제")
    assert (
        html_url(settings, department)
        == "https://press.example.kr/departments/wisaengjeongchaekgwa"
    )
    assert html_url(settings, category) == "https://press.example.kr/categories/gyeongje"
