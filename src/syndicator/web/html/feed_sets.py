"""The feeds a page offers: the whole site's, and its department's or category's."""

from __future__ import annotations

from dataclasses import dataclass

from syndicator.config import Settings
from syndicator.feeds.render.formats import ATOM_TYPE, JSON_TYPE, RSS_TYPE
from syndicator.feeds.scopes import SITE, Scope
from syndicator.feeds.urls import scope_urls

__all__ = ["FeedLink", "FeedSet", "feed_sets"]


@dataclass(frozen=True)
class FeedLink:
    label: str  # RSS | Atom | JSON Feed
    media_type: str
    url: str


@dataclass(frozen=True)
class FeedSet:
    """One scope's three documents, with the title readers show for them."""

    title: str
    links: tuple[FeedLink, ...]


def _feed_set(settings: Settings, scope: Scope) -> FeedSet:
    urls = scope_urls(settings, scope)
    title = settings.site_title
    if scope.kind == "department":
        title = f"{settings.site_title}: {scope.name}"
    elif scope.kind == "category":
        title = f"{settings.site_title}: {scope.name} 분야"
    links = (
        FeedLink("RSS", RSS_TYPE, urls.rss or ""),
        FeedLink("Atom", ATOM_TYPE, urls.atom),
        FeedLink("JSON Feed", JSON_TYPE, urls.json or ""),
    )
    return FeedSet(title, links)


def feed_sets(settings: Settings, scope: Scope = SITE) -> list[FeedSet]:
    """The scope's feeds first (when it is not the site), then the site's."""
    sets = [_feed_set(settings, SITE)]
    if scope.kind != "site":
        sets.insert(0, _feed_set(settings, scope))
    return sets
