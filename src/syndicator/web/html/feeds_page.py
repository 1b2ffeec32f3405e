"""The ``/feeds/`` HTML page: a pure function of settings and the index the publisher wrote."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syndicator.config import Settings
from syndicator.feeds.render.model import FormatUrls
from syndicator.web.html.discovery import autodiscovery_tags
from syndicator.web.html.templates import environment

__all__ = ["TEMPLATE", "render_feeds_page"]

TEMPLATE = "site/feeds_index.html"


def render_feeds_page(settings: Settings, index: Mapping[str, Any]) -> str:
    """``index`` is the parsed ``index.json``; missing keys render as an empty list."""
    site = index.get("site") or {}
    feeds = FormatUrls(
        atom=site.get("atom") or f"{settings.base_url}/feeds/atom.xml",
        rss=site.get("rss") or f"{settings.base_url}/feeds/rss.xml",
        json=site.get("json") or f"{settings.base_url}/feeds/feed.json",
    )
    template = environment(settings.templates_dir).get_template(TEMPLATE)
    return template.render(
        settings=settings,
        discovery=autodiscovery_tags(settings.site_title, feeds),
        site=feeds,
        departments=list(index.get("departments") or []),
        categories=list(index.get("categories") or []),
        archive=index.get("archive"),
    )
