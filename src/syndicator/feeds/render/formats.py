"""FeedDocument -> bytes for RSS 2.0, Atom 1.0 and JSON Feed 1.1. Pure and deterministic.

Determinism: the feed's updated/lastBuildDate is the newest entry (or tombstone) time, never
now(); entries are sorted here and appended in that order; no random ids.

Thread safety: feedgen formats RSS dates by switching the process locale to ``C`` around
``strftime`` (``feedgen.util.formatRFC2822``), which races with any other thread. The RSS
renderer therefore never gives feedgen a date: items get no feedgen pubDate, the channel's
default lastBuildDate is cleared, and both are written by our extension with the
locale-independent :func:`email.utils.format_datetime`. ``test_rss_never_touches_the_locale``
proves feedgen's formatter is not called.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.utils import format_datetime
from html import escape
from typing import Any

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator

from syndicator.feeds.render.feedgen_ext import (
    ArchiveExtension,
    EntryExtension,
    RssChannelExtension,
    TombstoneExtension,
)
from syndicator.feeds.render.model import DocumentKind, FeedDocument, FeedEntry
from syndicator.feeds.render.rss_title import rss_title

__all__ = [
    "ATOM_TYPE",
    "JSON_FEED_VERSION",
    "JSON_TYPE",
    "RSS_TYPE",
    "render_atom",
    "render_json",
    "render_rss",
]

RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
JSON_TYPE = "application/feed+json"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "syndicator"


def _as_is(text: str) -> str:
    return text


def _rss_text(text: str) -> str:
    """HTML readers treat RSS <description> (and <copyright>) as HTML: escape plain text for
    HTML, and feedgen escapes it again for XML, so ``<script>`` never reaches a reader as
    markup. Titles are read as plain text by some readers: they get :func:`rss_title`.
    Atom (type="text") and JSON Feed say what they carry and need neither."""
    return escape(text, quote=False)


def _generator(
    doc: FeedDocument, text: Callable[[str], str] = _as_is, title: Callable[[str], str] = _as_is
) -> Any:
    fg = FeedGenerator()
    fg.id(doc.feed_id)
    fg.title(title(doc.title))
    fg.description(text(doc.description))  # also the Atom subtitle
    fg.language(doc.language)
    fg.generator(GENERATOR)
    if doc.author_name:
        fg.author(name=doc.author_name)
    if doc.branding:
        fg.rights(text(doc.branding.rights))  # RSS <copyright>, Atom <rights>
    return fg


def _archive_links(doc: FeedDocument) -> list[tuple[str, str, str | None]]:
    links: list[tuple[str, str, str | None]] = []
    if doc.hub_url:
        links.append(("hub", doc.hub_url, None))
    if doc.prev_archive:
        links.append(("prev-archive", doc.prev_archive, ATOM_TYPE))
    if doc.next_archive:
        links.append(("next-archive", doc.next_archive, ATOM_TYPE))
    if doc.current_url:
        links.append(("current", doc.current_url, ATOM_TYPE))
    return links


def _add_common_entry(
    fg: Any,
    entry: FeedEntry,
    text: Callable[[str], str] = _as_is,
    title: Callable[[str], str] = _as_is,
) -> Any:
    fe = fg.add_entry(order="append")
    fe.id(entry.id)  # also the RSS guid, isPermaLink="false"
    fe.title(title(entry.title))
    fe.link(href=entry.url)
    fe.summary(text(entry.summary))  # RSS description
    fe.content(entry.content_html, type="html")  # RSS content:encoded; never type="CDATA"
    for category in entry.categories:
        fe.category(term=category)
    fe.syn.entry = entry
    return fe


def render_atom(doc: FeedDocument) -> bytes:
    fg = _generator(doc)
    fg.register_extension("fh", ArchiveExtension, atom=True, rss=False)
    fg.register_extension("at", TombstoneExtension, atom=True, rss=False)
    fg.register_extension("syn", BaseExtension, EntryExtension, atom=True, rss=False)
    fg.fh.is_archive = doc.kind is DocumentKind.ARCHIVE
    fg.at.tombstones = doc.sorted_tombstones
    fg.updated(doc.updated)
    fg.link(href=doc.self_urls.atom, rel="self", type=ATOM_TYPE)
    fg.link(href=doc.html_url, rel="alternate", type="text/html")
    for rel, href, media_type in _archive_links(doc):
        fg.link(href=href, rel=rel, **({"type": media_type} if media_type else {}))
    if brand := doc.branding:
        fg.icon(brand.icon_url)
        fg.logo(brand.logo_url)
        if brand.license_url:
            fg.link(href=brand.license_url, rel="license", type="text/html")
    for entry in doc.shown_entries():
        fe = _add_common_entry(fg, entry)
        fe.updated(entry.updated)
        fe.published(entry.published)
        fe.author(name=entry.author)
        fe.rights(entry.rights)
        # Enclosures are written by EntryExtension: feedgen would drop type and length.
    return bytes(fg.atom_str(pretty=True))


def render_rss(doc: FeedDocument) -> bytes:
    if doc.self_urls.rss is None:
        raise ValueError("this document has no RSS representation")
    fg = _generator(doc, _rss_text, rss_title)
    fg.register_extension("syn", RssChannelExtension, EntryExtension, atom=False, rss=True)
    # feedgen defaults lastBuildDate to now(): clear it (no public setter for None) and write
    # our own from the content, so equal data gives equal bytes and no locale switching.
    fg._FeedGenerator__rss_lastBuildDate = None
    fg.syn.last_build = format_datetime(doc.updated)
    fg.syn.links = _archive_links(doc)
    # The channel <link> is the last link added: self first, the HTML page last.
    fg.link(href=doc.self_urls.rss, rel="self", type=RSS_TYPE)
    fg.link(href=doc.html_url, rel="alternate", type="text/html")
    if brand := doc.branding:
        width, height = brand.image_size or (None, None)
        fg.image(
            url=brand.image_url,
            title=rss_title(doc.title),  # the spec asks for the channel's title and link
            link=doc.html_url,
            width=str(width) if width else None,
            height=str(height) if height else None,
        )
        fg.ttl(brand.ttl_minutes)
    for entry in doc.shown_entries():
        fe = _add_common_entry(fg, entry, _rss_text, rss_title)
        if entry.enclosures:
            first = entry.enclosures[0]
            # RSS allows one enclosure; the RSS Advisory Board says use length 0 when unknown.
            fe.enclosure(first.url, str(first.length or 0), first.media_type)
    return bytes(fg.rss_str(pretty=True))


def _json_item(entry: FeedEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.id,
        "url": entry.url,
        "title": entry.title,
        "content_html": entry.content_html,
        "summary": entry.summary,
        "date_published": entry.published.isoformat(),
        "date_modified": entry.updated.isoformat(),
        "authors": [{"name": entry.author}],
        "language": "ko",
        "_rights": {"license": entry.rights},
    }
    if entry.categories:
        item["tags"] = list(entry.categories)
    if entry.enclosures:
        item["attachments"] = [
            {"url": e.url, "mime_type": e.media_type, "title": e.title}
            | ({"size_in_bytes": e.length} if e.length is not None else {})
            for e in entry.enclosures
        ]
    return item


def render_json(doc: FeedDocument) -> bytes:
    if doc.self_urls.json is None:
        raise ValueError("this document has no JSON Feed representation")
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": doc.title,
        "home_page_url": doc.html_url,
        "feed_url": doc.self_urls.json,
        "description": doc.description,
        "language": doc.language,
    }
    if doc.author_name:
        feed["authors"] = [{"name": doc.author_name}]
    if brand := doc.branding:
        feed["icon"] = brand.icon_url
        feed["favicon"] = brand.favicon_url
        # JSON Feed has no licence field; underscore keys are its extension mechanism.
        feed["_rights"] = {"license": brand.rights} | (
            {"url": brand.license_url} if brand.license_url else {}
        )
    if doc.hub_url:
        feed["hubs"] = [{"type": "WebSub", "url": doc.hub_url}]
    history = {rel: href for rel, href, _ in _archive_links(doc) if rel != "hub"}
    if history:
        # JSON Feed has no paging links; underscore keys are its extension mechanism.
        feed["_rfc5005"] = history
    feed["items"] = [_json_item(e) for e in doc.shown_entries()]
    # Compact: json's C encoder is only used without indent, and readers don't need it.
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
