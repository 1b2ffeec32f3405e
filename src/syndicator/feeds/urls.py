"""Where each document lives: its path under feeds_dir and its absolute URL (the same path)."""

from __future__ import annotations

import re
from typing import Literal

from syndicator.config import Settings
from syndicator.events.uris import iri_to_uri
from syndicator.feeds.render.model import FormatUrls
from syndicator.feeds.scopes import Month, Scope

__all__ = [
    "ARCHIVE_GLOBS",
    "FEEDS_PATH",
    "FORMAT_FILES",
    "INDEX_PATH",
    "MAX_AGE_SECONDS",
    "SERVABLE_PATH",
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
INDEX_PATH = "index.json"
Format = Literal["rss", "atom", "json"]
FORMAT_FILES: dict[Format, str] = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
# How long HTTP caches and readers may keep a feed document (Cache-Control, RSS <ttl>).
MAX_AGE_SECONDS = 300

_SCOPE_DIRS = {"site": "", "department": "departments/", "category": "categories/"}
_ARCHIVE_DIR = "archive/"
_MONTH_FILE = "[0-9]{4}-[0-9]{2}\\.xml"

# Every path under feeds_dir (and /feeds/) a document can have, and nothing else. Slugs
# are ASCII [a-z0-9-] (store.taxonomy), so ``..`` can never match.
SERVABLE_PATH = re.compile(
    "(?:(?:"
    + "|".join(re.escape(d.rstrip("/")) for d in _SCOPE_DIRS.values() if d)
    + ")/[a-z0-9][a-z0-9-]{0,199}/)?(?:"
    + "|".join(re.escape(name) for name in FORMAT_FILES.values())
    + f"|{_ARCHIVE_DIR}{_MONTH_FILE})|{re.escape(INDEX_PATH)}"
)
# Where archive documents live, for sweeping out those no longer rendered.
ARCHIVE_GLOBS = tuple(
    f"{d}*/{_ARCHIVE_DIR}*.xml" if d else f"{_ARCHIVE_DIR}*.xml" for d in _SCOPE_DIRS.values()
)


def scope_dir(scope: Scope) -> str:
    """``""`` for the site, ``departments/<slug>/`` for a department, and so on."""
    return _SCOPE_DIRS[scope.kind] + (f"{scope.slug}/" if scope.kind != "site" else "")


def feed_path(scope: Scope, fmt: Format) -> str:
    """Relative to feeds_dir and to ``/feeds/``: ``departments/<slug>/rss.xml``."""
    return scope_dir(scope) + FORMAT_FILES[fmt]


def archive_path(scope: Scope, month: Month) -> str:
    """``archive/2022-10.xml``, or ``departments/<slug>/archive/2022-10.xml``."""
    return f"{scope_dir(scope)}{_ARCHIVE_DIR}{month}.xml"


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


_BOARD_DIRS = {"department": "departments", "category": "categories"}


def html_url(settings: Settings, scope: Scope) -> str:
    """The HTML page a feed's alternate link names: the board, or the scope's board page."""
    if scope.kind == "site":
        return f"{settings.base_url}/"
    return iri_to_uri(f"{settings.base_url}/{_BOARD_DIRS[scope.kind]}/{scope.slug}")
