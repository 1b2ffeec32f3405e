"""``/feeds/departments/`` and ``/feeds/categories/``: one kind of scope's feeds.

They are routed before ``/feeds/{path}`` (the documents), and re-render, like ``/feeds/``,
only when the publisher writes a new index.json.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from syndicator.config import Settings
from syndicator.i18n import LANGUAGES
from syndicator.store.db import Database
from syndicator.web.feeds import CACHE_CONTROL, PAGE_VARY, FeedsIndexPage
from syndicator.web.html.feeds_page import ScopeList, render_feeds_page
from syndicator.web.language import ByLanguage
from syndicator.web.representations import Headers

__all__ = ["feed_list_routes"]


class ScopeListPage(FeedsIndexPage):
    def __init__(self, settings: Settings, db: Database, only: ScopeList, language: str) -> None:
        super().__init__(settings, db, language)
        self.only: ScopeList = only

    def _page(self, index: dict[str, Any]) -> tuple[bytes, Headers]:
        html = render_feeds_page(self.settings, index, self.only, self.language).encode("utf-8")
        return html, [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"cache-control", CACHE_CONTROL),
            (b"vary", PAGE_VARY),
            (b"x-content-type-options", b"nosniff"),
        ]


def _pages(settings: Settings, db: Database, only: ScopeList) -> ByLanguage:
    return ByLanguage({lang: ScopeListPage(settings, db, only, lang) for lang in LANGUAGES})


def feed_list_routes(settings: Settings, db: Database) -> list[BaseRoute]:
    return [
        Route(f"/feeds/{only}/", _pages(settings, db, only), methods=["GET"], name=only)
        for only in ("departments", "categories")
    ]
