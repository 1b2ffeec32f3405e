"""Render inputs for pure renderer tests: releases as plain objects, documents around them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from syndicator.events.schema import CmsEvent
from syndicator.feeds.render.entries import entry_from_release
from syndicator.feeds.render.model import DocumentKind, FeedDocument, FeedEntry, FormatUrls
from tests.factories import make_event

BASE = "https://press.example.kr"
DOMAIN = "daegu.go.kr"
ORG = "대구광역시"
URLS = FormatUrls(
    atom=f"{BASE}/feeds/atom.xml", rss=f"{BASE}/feeds/rss.xml", json=f"{BASE}/feeds/feed.json"
)


def release(release_id: int, *, retracted_at: datetime | None = None, **fields: Any) -> Any:
    """A release as stored: validated through the real event schema, then a plain object."""
    event = CmsEvent.model_validate(make_event(release_id, **fields)).release
    data = event.model_dump(mode="json")
    data.update(
        url=str(event.url),
        published_at=event.published_at,
        first_published_at=event.published_at,
        updated_at=event.updated_at,
        retracted_at=retracted_at,
        retraction_reason=None,
    )
    return SimpleNamespace(**data)


def raw_release(release_id: int, **fields: Any) -> Any:
    """A release that skipped intake hygiene: what a buggy importer could hand the renderer."""
    base = release(release_id)
    return SimpleNamespace(**{**vars(base), **fields})


def entry(release_id: int, **fields: Any) -> FeedEntry:
    return entry_from_release(release(release_id, **fields), site_domain=DOMAIN, org_name=ORG)


def document(entries: tuple[FeedEntry, ...], **changes: Any) -> FeedDocument:
    doc = FeedDocument(
        kind=DocumentKind.LIVE,
        feed_id=f"tag:{DOMAIN},2020:feeds/site",
        title="대구광역시 보도자료",
        description="대구광역시가 발표하는 보도자료",
        html_url=f"{BASE}/",
        self_urls=URLS,
        entries=entries,
        author_name="대구광역시",
    )
    return replace(doc, **changes)
