"""Rows -> FeedDocuments -> rendered outputs (path, URL, bytes, content time). No I/O."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from syndicator.config import Settings
from syndicator.events.uris import xml_safe
from syndicator.feeds.render.entries import (
    entry_from_release,
    license_url,
    notice_from_release,
    rights_text,
    tombstone_from_release,
)
from syndicator.feeds.render.formats import render_atom, render_json, render_rss
from syndicator.feeds.render.model import (
    Branding,
    DocumentKind,
    FeedDocument,
    FeedEntry,
    FormatUrls,
    Tombstone,
)
from syndicator.feeds.scopes import Month, Scope
from syndicator.feeds.urls import (
    MAX_AGE_SECONDS,
    archive_path,
    archive_url,
    feed_path,
    html_url,
    index_url,
    scope_urls,
)
from syndicator.store.models import Release

__all__ = [
    "EntryCache",
    "Output",
    "archive_document",
    "branding",
    "live_document",
    "render_archive",
    "render_live",
]

# Tag URIs need a date on which the authority held the domain; any fixed year will do.
FEED_ID_YEAR = 2020
# The licence a feed as a whole carries; each entry still carries its release's own.
FEED_LICENSE = "KOGL-1"


@dataclass(frozen=True)
class Output:
    path: str  # relative to feeds_dir
    url: str
    data: bytes
    content_time: datetime


class EntryCache:
    """Each release version becomes a FeedEntry once per process, however many feeds and
    publishes show it: building one parses its body with lxml, the dearest step of a render.

    Keyed by (release id, last_event_id): every applied event changes last_event_id, and
    intake can change content without changing updated_at.
    """

    _shared: ClassVar[OrderedDict[tuple[str, str, int, str], FeedEntry]] = OrderedDict()
    _lock: ClassVar[threading.Lock] = threading.Lock()
    MAX_ENTRIES: ClassVar[int] = 4096

    def __init__(self, site_domain: str, org_name: str = "", *, shared: bool = True) -> None:
        # shared=False: a one-off pass (a rebuild's walk through old archives) that must not
        # push the entries publishes keep needing out of the process-wide cache.
        self.site_domain = site_domain
        self.org_name = org_name
        self._store = self._shared if shared else OrderedDict()

    def entries(self, rows: Sequence[Release]) -> tuple[FeedEntry, ...]:
        return tuple(self._entry(row) for row in rows)

    def _entry(self, row: Release) -> FeedEntry:
        key = (self.site_domain, self.org_name, row.id, row.last_event_id)
        with self._lock:
            found = self._store.get(key)
            if found is not None:
                self._store.move_to_end(key)
                return found
        found = entry_from_release(row, site_domain=self.site_domain, org_name=self.org_name)
        with self._lock:
            self._store[key] = found
            while len(self._store) > self.MAX_ENTRIES:
                self._store.popitem(last=False)
        return found

    def notices(self, rows: Sequence[Release]) -> tuple[FeedEntry, ...]:
        return tuple(
            notice_from_release(r, site_domain=self.site_domain, org_name=self.org_name)
            for r in rows
        )

    def tombstones(self, rows: Sequence[Release]) -> tuple[Tombstone, ...]:
        return tuple(tombstone_from_release(r, site_domain=self.site_domain) for r in rows)


def _feed_id(settings: Settings, scope: Scope) -> str:
    suffix = "site" if scope.kind == "site" else f"{scope.kind}/{scope.slug}"
    return f"tag:{settings.site_domain},{FEED_ID_YEAR}:feeds/{suffix}"


def _title(settings: Settings, scope: Scope) -> tuple[str, str]:
    # Names come from the CMS and live on in the taxonomy: the last guard is here.
    name = xml_safe(scope.name)
    if scope.kind == "department":
        return f"{settings.site_title} · {name}", f"{name}에서 발표한 보도자료"
    if scope.kind == "category":
        return f"{settings.site_title} · {name}", f"{name} 분야 보도자료"
    return settings.site_title, settings.site_description


def branding(settings: Settings) -> Branding:
    custom = settings.emblem_url
    shipped = f"{settings.base_url}/static/"
    return Branding(
        rights=f"{settings.org_name} · {rights_text(FEED_LICENSE)}",
        license_url=license_url(FEED_LICENSE),
        icon_url=custom or shipped + "emblem-512.png",
        favicon_url=custom or shipped + "emblem-64.png",
        logo_url=custom or shipped + "logo-288x144.png",
        image_url=custom or shipped + "emblem-144.png",
        image_size=None if custom else (144, 144),
        ttl_minutes=MAX_AGE_SECONDS // 60,
    )


def live_document(
    settings: Settings,
    scope: Scope,
    entries: tuple[FeedEntry, ...],
    tombstones: tuple[Tombstone, ...],
    prev_archive: Month | None,
    notices: tuple[FeedEntry, ...] = (),
) -> FeedDocument:
    title, description = _title(settings, scope)
    return FeedDocument(
        kind=DocumentKind.LIVE,
        feed_id=_feed_id(settings, scope),
        title=title,
        description=description,
        html_url=html_url(settings, scope),
        self_urls=scope_urls(settings, scope),
        entries=entries,
        tombstones=tombstones,
        notices=notices,
        author_name=settings.org_name,
        prev_archive=archive_url(settings, scope, prev_archive) if prev_archive else None,
        hub_url=settings.websub_hub,
        branding=branding(settings),
    )


def archive_document(
    settings: Settings,
    scope: Scope,
    month: Month,
    entries: tuple[FeedEntry, ...],
    older: Month | None,
    newer: Month | None,
    notices: tuple[FeedEntry, ...] = (),
) -> FeedDocument:
    title, _ = _title(settings, scope)
    about = f"{xml_safe(scope.name)} " if scope.kind != "site" else ""
    return FeedDocument(
        kind=DocumentKind.ARCHIVE,
        # One logical feed spread over documents: archives share their live feed's id.
        feed_id=_feed_id(settings, scope),
        title=f"{title} · {month.year}년 {month.month}월 보관",
        description=(
            f"{about}{month.year}년 {month.month}월에 발표한 보도자료 (RFC 5005 보관 문서)"
        ),
        html_url=html_url(settings, scope) if scope.kind != "site" else index_url(settings),
        self_urls=FormatUrls(atom=archive_url(settings, scope, month)),
        entries=entries,
        notices=notices,
        author_name=settings.org_name,
        branding=branding(settings),
        prev_archive=archive_url(settings, scope, older) if older else None,
        next_archive=archive_url(settings, scope, newer) if newer else None,
        current_url=scope_urls(settings, scope).atom,
    )


def render_live(scope: Scope, doc: FeedDocument) -> list[Output]:
    urls = doc.self_urls
    assert urls.rss is not None and urls.json is not None
    return [
        Output(feed_path(scope, "rss"), urls.rss, render_rss(doc), doc.updated),
        Output(feed_path(scope, "atom"), urls.atom, render_atom(doc), doc.updated),
        Output(feed_path(scope, "json"), urls.json, render_json(doc), doc.updated),
    ]


def render_archive(scope: Scope, month: Month, doc: FeedDocument) -> Output:
    return Output(archive_path(scope, month), doc.self_urls.atom, render_atom(doc), doc.updated)
