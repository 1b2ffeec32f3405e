"""Serving the published feed documents: plain ASGI endpoints over an in-memory cache.

Mount with ``app.router.routes.extend(feed_routes(settings, db))``. Documents come from the
database, so every web node serves what any publisher wrote. Responses carry a strong
ETag (content hash), Last-Modified (set by the publisher from the content),
answer If-None-Match / If-Modified-Since with 304, gzip on request, and advertise the
WebSub hub in ``Link`` headers. Only whitelisted paths are served, so ``..`` cannot escape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from syndicator.config import Settings
from syndicator.events.uris import iri_to_uri
from syndicator.feeds.render.formats import ATOM_TYPE, JSON_TYPE, RSS_TYPE
from syndicator.feeds.urls import (
    FORMAT_FILES,
    INDEX_PATH,
    MAX_AGE_SECONDS,
    SERVABLE_PATH,
    absolute_url,
)
from syndicator.i18n import DEFAULT_LANGUAGE, LANGUAGES
from syndicator.store.db import Database
from syndicator.web.aliases import AliasMap
from syndicator.web.html.feeds_page import render_feeds_page
from syndicator.web.language import ByLanguage, static_page_language
from syndicator.web.representations import (
    DocumentCache,
    Headers,
    Representation,
    is_not_modified,
    make_representation,
)

__all__ = ["CACHE_CONTROL", "CONTENT_TYPES", "feed_routes"]

CONTENT_TYPES = {
    FORMAT_FILES["rss"]: f"{RSS_TYPE}; charset=utf-8".encode(),
    FORMAT_FILES["atom"]: f"{ATOM_TYPE}; charset=utf-8".encode(),
    FORMAT_FILES["json"]: JSON_TYPE.encode(),
    INDEX_PATH: b"application/json",
}
_ARCHIVE_TYPE = CONTENT_TYPES[FORMAT_FILES["atom"]]
CACHE_CONTROL = f"public, max-age={MAX_AGE_SECONDS}".encode()
_COMMON: Headers = [
    (b"cache-control", CACHE_CONTROL),
    (b"vary", b"Accept-Encoding"),
    (b"x-content-type-options", b"nosniff"),
    # Public data; browser-based readers fetch feeds cross-origin.
    (b"access-control-allow-origin", b"*"),
]
_NOT_FOUND = "피드를 찾을 수 없습니다.\n".encode()


def _header_values(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    inm = ims = ae = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            inm = value
        elif name == b"if-modified-since":
            ims = value
        elif name == b"accept-encoding":
            ae = value
    return inm, ims, ae


async def _send(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _unavailable(send: Send) -> None:
    body = "피드를 잠시 제공할 수 없습니다. 잠시 후 다시 시도해 주세요.\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"5"),
    ]
    await _send(send, 503, headers, body)


async def _not_found(send: Send) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(_NOT_FOUND)).encode()),
    ]
    await _send(send, 404, headers, _NOT_FOUND)


async def _respond(rep: Representation, scope: Scope, send: Send) -> None:
    if_none_match, if_modified_since, accept_encoding = _header_values(scope)
    gzipped = rep.use_gzip(accept_encoding)
    if is_not_modified(rep, if_none_match, if_modified_since):
        headers = rep.gzip_not_modified() if gzipped else rep.not_modified
        await _send(send, 304, headers, b"")
        return
    if gzipped:
        body, headers = rep.gzip_body(), rep.gzip_headers()
    else:
        body, headers = rep.body, rep.ok_headers
    await _send(send, 200, headers, b"" if scope["method"] == "HEAD" else body)


class FeedDocuments:
    """ASGI endpoint for ``/feeds/{path}``: the documents the publisher stored, as they are."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.cache = DocumentCache(db, self._headers_for, settings.document_check_seconds)
        self.aliases = AliasMap(db)

    def _headers_for(self, relative: str, data: bytes) -> tuple[bytes, Headers]:
        content_type = CONTENT_TYPES.get(relative.rsplit("/", 1)[-1], _ARCHIVE_TYPE)
        headers = [(b"content-type", content_type), *_COMMON]
        if self.settings.websub_hub and relative != INDEX_PATH:
            self_url = absolute_url(self.settings, relative)
            hub = iri_to_uri(self.settings.websub_hub)
            link = f'<{hub}>; rel="hub", <{self_url}>; rel="self"'
            headers.append((b"link", link.encode("ascii")))
        return data, headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relative = scope["path_params"].get("path", "")
        if not SERVABLE_PATH.fullmatch(relative):
            await _not_found(send)
            return
        try:
            rep = await self.cache.get(relative)
        except Exception:  # the database is away and this document is not cached
            await _unavailable(send)
            return
        if rep is None:
            await self._not_here(relative, send)
            return
        await _respond(rep, scope, send)

    async def _not_here(self, relative: str, send: Send) -> None:
        """A scope's old slug redirects for good; anything else is not found."""
        try:
            moved = await self.aliases.moved(relative)
        except Exception:  # the database is away: say so rather than 404 a moved feed
            await _unavailable(send)
            return
        if moved is None:
            await _not_found(send)
            return
        location = absolute_url(self.settings, moved).encode("ascii")
        headers = [
            (b"location", location),
            (b"cache-control", b"public, max-age=86400"),
            (b"content-length", b"0"),
        ]
        await _send(send, 301, headers, b"")


# The feed list pages are one cached page per language.
PAGE_VARY = b"Accept-Encoding, Accept-Language, Cookie"


class FeedsIndexPage:
    """ASGI endpoint for ``/feeds/`` in one language: HTML rendered from index.json,
    re-rendered when it changes."""

    def __init__(self, settings: Settings, db: Database, language: str = DEFAULT_LANGUAGE) -> None:
        self.settings = settings
        self.language = static_page_language(language)
        self.cache = DocumentCache(db, self._render, settings.document_check_seconds)
        self._empty: Representation | None = None

    def _page(self, index: dict[str, Any]) -> tuple[bytes, Headers]:
        html = render_feeds_page(self.settings, index, page=self.language).encode("utf-8")
        headers = [(b"vary", PAGE_VARY) if name == b"vary" else (name, v) for name, v in _COMMON]
        return html, [(b"content-type", b"text/html; charset=utf-8"), *headers]

    def _render(self, _path: str, data: bytes) -> tuple[bytes, Headers]:
        return self._page(json.loads(data))

    def _before_first_publish(self) -> Representation:
        if self._empty is None:
            body, headers = self._page({})
            self._empty = make_representation(None, body, 0, headers)
        return self._empty

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            rep = await self.cache.get(INDEX_PATH)
        except Exception:  # the database is away and the page is not cached
            await _unavailable(send)
            return
        await _respond(rep or self._before_first_publish(), scope, send)


def feed_routes(
    settings: Settings, db: Database, caches: list[DocumentCache] | None = None
) -> list[BaseRoute]:
    """The feed routes; their document caches are appended to ``caches``, for the app to
    refresh when a publisher announces a change."""
    pages = {language: FeedsIndexPage(settings, db, language) for language in LANGUAGES}
    documents = FeedDocuments(settings, db)
    if caches is not None:
        caches.extend([*(page.cache for page in pages.values()), documents.cache])
    routes: Iterable[BaseRoute] = (
        Route("/feeds/", ByLanguage(pages), methods=["GET"], name="feeds_index"),
        Route("/feeds/{path:path}", documents, methods=["GET"], name="feeds_file"),
    )
    return list(routes)
