"""Where each document lives: its path under feeds_dir and its absolute URL (the same path)."""

from __future__ import annotations

from typing import Literal

from syndicator.config import Settings
from syndicator.feeds.scopes import Month, Scope
from syndicator.render.iri import iri_to_uri
from syndicator.render.model import FormatUrls

__all__ = [
    "FEEDS_PATH",
    "FORMAT_FILES",
    "Format",
    "absolute_url",
    "archive_path",
    "archive_url",
    "feed_path",
    "html_url",
    "index_url",
    "scope_dir",
    "scope_urls",
]

FEEDS_PATH = "/feeds"
Format = Literal["rss", "atom", "json"]
FORMAT_FILES: dict[Format, str] = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
_SCOPE_DIRS = {"site": "", "department": "departments/", "category": "categories/"}


def scope_dir(scope: Scope) -> str:
    """``""`` for the site, ``departments/<slug>/`` for a department, and so on."""
    return _SCOPE_DIRS[scope.kind] + (f"{scope.slug}/" if scope.kind != "site" else "")


def feed_path(scope: Scope, fmt: Format) -> str:
    """Relative to feeds_dir and to ``/feeds/``: ``departments/<slug>/rss.xml``."""
    return scope_dir(scope) + FORMAT_FILES[fmt]


def archive_path(scope: Scope, month: Month) -> str:
    """``archive/2022-10.xml``, or ``departments/<slug>/archive/2022-10.xml``."""
    return f"{scope_dir(scope)}archive/{month}.xml"


def absolute_url(settings: Settings, relative: str) -> str:
    return iri_to_uri(f"{settings.base_url}{FEEDS_PATH}/{relative}")


def scope_urls(settings: Settings, scope: Scope) -> FormatUrls:
    return FormatUrls(
        atom=absolute_url(settings, feed_path(scope, "atom")),
        rss=absolute_url(settings, feed_path(scope, "rss")),
        json=absolute_url(settings, feed_path(scope, "json")),
    )


def archive_url(settings: Settings, scope: Scope, month: Month) -> str:
    return absolute_url(settings, archive_path(scope, month))


def index_url(settings: Settings) -> str:
    return f"{settings.base_url}{FEEDS_PATH}/"


def html_url(settings: Settings, scope: Scope) -> str:
    """The HTML page a feed's alternate link names. Only the home page exists so far, so
    department and category feeds point at their entry on the feeds index page."""
    if scope.kind == "site":
        return f"{settings.base_url}/"
    return iri_to_uri(f"{index_url(settings)}#{scope.kind}-{scope.slug}")
