"""``/feeds/index.json``: every department and category feed, for people and for the HTML page.

Written by the publisher (which has the database) so the web layer only reads a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from syndicator.config import Settings
from syndicator.feeds.scopes import SITE, Month, Scope
from syndicator.feeds.urls import INDEX_PATH, archive_url, html_url, index_url, scope_urls

__all__ = ["INDEX_PATH", "render_index"]


def _scope_entry(settings: Settings, scope: Scope) -> dict[str, Any]:
    urls = scope_urls(settings, scope)
    return {
        "name": scope.name or settings.site_title,
        "slug": scope.slug,
        "html": html_url(settings, scope),
        "rss": urls.rss,
        "atom": urls.atom,
        "json": urls.json,
    }


def render_index(
    settings: Settings, scopes: Iterable[Scope], newest_archive: Month | None
) -> bytes:
    by_kind: dict[str, list[Scope]] = {"department": [], "category": []}
    for scope in scopes:
        if scope.kind in by_kind:
            by_kind[scope.kind].append(scope)
    document = {
        "title": settings.site_title,
        "description": settings.site_description,
        "url": index_url(settings),
        "site": _scope_entry(settings, SITE),
        "departments": [
            _scope_entry(settings, s) for s in sorted(by_kind["department"], key=lambda s: s.name)
        ],
        "categories": [
            _scope_entry(settings, s) for s in sorted(by_kind["category"], key=lambda s: s.name)
        ],
        "archive": archive_url(settings, SITE, newest_archive) if newest_archive else None,
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
