"""feedgen extensions for what feedgen 1.0 cannot write itself.

- ``fh:archive`` (RFC 5005) on archive documents;
- ``at:deleted-entry`` tombstones (RFC 6721);
- RSS channel ``atom:link``s besides ``self`` (hub, prev-archive, ...), which feedgen drops;
- Atom ``link rel="enclosure"`` with type and length, which feedgen strips to a bare href;
- every RSS date, formatted here with :func:`email.utils.format_datetime`: feedgen's own
  formatter flips the process-wide locale to ``C`` around ``strftime``, which is not thread-safe,
  so the renderer never hands feedgen an RSS date (see ``render.feeds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from lxml import etree

from syndicator.feeds.render.model import FeedEntry, Tombstone

__all__ = [
    "ATOM_NS",
    "AT_NS",
    "DC_NS",
    "FH_NS",
    "ArchiveExtension",
    "EntryExtension",
    "RssChannelExtension",
    "TombstoneExtension",
]

ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"
AT_NS = "http://purl.org/atompub/tombstones/1.0"
DC_NS = "http://purl.org/dc/elements/1.1/"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> None:
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text


class ArchiveExtension(BaseExtension):
    """Marks an Atom document as an RFC 5005 archive document."""

    def __init__(self) -> None:
        self.is_archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS} if self.is_archive else {}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.is_archive:
            _sub(feed, f"{{{FH_NS}}}archive")
        return feed


class TombstoneExtension(BaseExtension):
    """Writes RFC 6721 deleted-entry elements into the Atom feed."""

    def __init__(self) -> None:
        self.tombstones: Sequence[Tombstone] = ()

    def extend_ns(self) -> dict[str, str]:
        return {"at": AT_NS} if self.tombstones else {}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        for stone in self.tombstones:
            deleted = etree.SubElement(
                feed, f"{{{AT_NS}}}deleted-entry", ref=stone.ref, when=stone.when.isoformat()
            )
            if stone.url:
                # feedgen writes Atom elements un-namespaced under a literal xmlns attribute;
                # matching that keeps them in the default (Atom) namespace without a prefix.
                _sub(deleted, "link", href=stone.url)
            _sub(deleted, f"{{{AT_NS}}}comment", stone.comment)
        return feed


class RssChannelExtension(BaseExtension):
    """RSS channel extras: atom:links feedgen omits, lastBuildDate, dc namespace for items."""

    def __init__(self) -> None:
        self.links: Sequence[tuple[str, str, str | None]] = ()  # (rel, href, type)
        self.last_build: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        assert channel is not None  # feedgen always writes it before calling extensions
        for rel, href, media_type in self.links:
            attrib = {"href": href, "rel": rel}
            if media_type:
                attrib["type"] = media_type
            _sub(channel, f"{{{ATOM_NS}}}link", **attrib)
        if self.last_build:
            _sub(channel, "lastBuildDate", self.last_build)
        return feed


class EntryExtension(BaseEntryExtension):
    """Per entry: Atom enclosures (whole), RSS pubDate, dc:creator and dc:rights."""

    def __init__(self) -> None:
        self.entry: FeedEntry | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.entry is None:
            return entry
        for enclosure in self.entry.enclosures:
            attrib = {"rel": "enclosure", "href": enclosure.url, "type": enclosure.media_type}
            if enclosure.length is not None:
                # RFC 4287 makes length optional: leave it out rather than claim a size.
                attrib["length"] = str(enclosure.length)
            if enclosure.title:
                attrib["title"] = enclosure.title
            _sub(entry, "link", **attrib)  # un-namespaced like feedgen's own Atom elements
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        if self.entry is None:
            return item
        _sub(item, "pubDate", format_datetime(self.entry.published))
        _sub(item, f"{{{DC_NS}}}creator", self.entry.author)
        _sub(item, f"{{{DC_NS}}}rights", self.entry.rights)
        return item
