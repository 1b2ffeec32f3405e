"""The ``/feeds/`` HTML pages: pure functions of settings and the index the publisher wrote."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from syndicator.config import Settings
from syndicator.feeds.render.model import FormatUrls
from syndicator.i18n import N_
from syndicator.web.html.feed_sets import feed_sets
from syndicator.web.html.templates import KOREAN, PageLanguage, render

__all__ = ["TEMPLATE", "ScopeList", "render_feeds_page"]

TEMPLATE = "site/feeds_index.html"
ScopeList = Literal["departments", "categories"]

_SECTIONS: dict[ScopeList, tuple[str, str]] = {
    "departments": (N_("부서별 피드"), "department"),
    "categories": (N_("분야별 피드"), "category"),
}


def render_feeds_page(
    settings: Settings,
    index: Mapping[str, Any],
    only: ScopeList | None = None,
    page: PageLanguage = KOREAN,
) -> str:
    """``index`` is the parsed ``index.json``; missing keys render as an empty list.
    ``only`` renders ``/feeds/departments/`` or ``/feeds/categories/``."""
    site = index.get("site") or {}
    feeds = FormatUrls(
        atom=site.get("atom") or f"{settings.base_url}/feeds/atom.xml",
        rss=site.get("rss") or f"{settings.base_url}/feeds/rss.xml",
        json=site.get("json") or f"{settings.base_url}/feeds/feed.json",
    )
    sections = [
        (heading, kind, directory, list(index.get(directory) or []))
        for directory, (heading, kind) in _SECTIONS.items()
        if only in (None, directory)
    ]
    return render(
        settings,
        TEMPLATE,
        page=page,
        heading=_SECTIONS[only][0] if only else N_("피드 구독"),
        site=feeds,
        only=only,
        sections=sections,
        archive=index.get("archive"),
        feed_sets=feed_sets(settings),
    )
