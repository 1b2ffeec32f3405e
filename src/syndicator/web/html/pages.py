"""Site pages as pure functions of settings and rows."""

from __future__ import annotations

from collections.abc import Sequence

from syndicator.config import Settings
from syndicator.feeds.render.model import KST
from syndicator.feeds.scopes import SITE
from syndicator.feeds.urls import scope_urls
from syndicator.store.models import Release
from syndicator.web.html.discovery import autodiscovery_tags
from syndicator.web.html.templates import environment

__all__ = ["render_home"]


def render_home(settings: Settings, releases: Sequence[Release]) -> str:
    template = environment(settings.templates_dir).get_template("site/home.html")
    items = [
        {
            "id": r.id,
            "title": r.title,
            "url": r.url,
            "department": r.department,
            "published": r.published_at.astimezone(KST).strftime("%Y.%m.%d"),
            "categories": r.categories,
        }
        for r in releases
    ]
    urls = scope_urls(settings, SITE)
    return template.render(
        settings=settings,
        releases=items,
        feeds=urls,
        feed_links=autodiscovery_tags(settings.site_title, urls),
    )
