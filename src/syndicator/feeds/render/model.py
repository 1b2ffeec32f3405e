"""The render input: plain frozen data, so renderers never touch the database or the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "EMPTY_FEED_UPDATED",
    "KST",
    "Branding",
    "DocumentKind",
    "Enclosure",
    "FeedDocument",
    "FeedEntry",
    "FormatUrls",
    "Tombstone",
]

KST = ZoneInfo("Asia/Seoul")

# An empty feed still needs an `updated`; a fixed instant keeps its bytes stable.
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=KST)


class DocumentKind(StrEnum):
    LIVE = "live"  # the subscription document (RFC 5005 "current")
    ARCHIVE = "archive"  # one month of older releases, Atom only


@dataclass(frozen=True)
class FormatUrls:
    """Absolute URLs of one scope's documents; archives exist only as Atom."""

    atom: str
    rss: str | None = None
    json: str | None = None


@dataclass(frozen=True)
class Enclosure:
    url: str  # absolute, percent-encoded
    media_type: str
    length: int | None  # bytes; None when the board did not say
    title: str


@dataclass(frozen=True)
class FeedEntry:
    number: int  # the board's release number, the tie-breaker in the ordering
    id: str  # permanent tag URI, stable across updates
    title: str
    url: str  # absolute, percent-encoded permalink
    summary: str
    content_html: str  # links already absolute
    author: str  # the department
    categories: tuple[str, ...]
    published: datetime  # aware, KST
    updated: datetime  # aware, KST
    rights: str
    enclosures: tuple[Enclosure, ...] = ()

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.published, self.number)


@dataclass(frozen=True)
class Tombstone:
    """RFC 6721 at:deleted-entry: tells Atom readers to drop an entry they already hold."""

    ref: str  # the retracted entry's id
    when: datetime  # aware, KST
    comment: str
    url: str | None = None


@dataclass(frozen=True)
class Branding:
    """Who publishes under which licence, as readers show it at feed level."""

    rights: str  # "공공누리 제1유형: 출처표시"
    license_url: str | None  # the KOGL page of that type
    icon_url: str  # square (Atom icon, JSON Feed icon)
    favicon_url: str  # small square (JSON Feed favicon)
    logo_url: str  # 2:1 (Atom logo)
    image_url: str  # RSS <image>: at most 144 pixels wide
    image_size: tuple[int, int] | None  # (width, height) when known
    ttl_minutes: int  # RSS <ttl>: as long as HTTP caches keep the document


@dataclass(frozen=True)
class FeedDocument:
    kind: DocumentKind
    feed_id: str
    title: str
    description: str
    html_url: str
    self_urls: FormatUrls
    entries: tuple[FeedEntry, ...]
    tombstones: tuple[Tombstone, ...] = ()
    author_name: str = ""
    prev_archive: str | None = None
    next_archive: str | None = None
    current_url: str | None = None  # the live Atom document, linked from archives
    hub_url: str | None = None
    language: str = "ko"
    branding: Branding | None = None
    # Retracted releases as notices ("[철회] …", same id, new updated), shown in every
    # format while the notice window lasts: newsboat, rss2email and `reader` ignore RFC 6721
    # tombstones and only replace an entry they hold when its id comes back. An archive
    # keeps the notice for good.
    notices: tuple[FeedEntry, ...] = ()

    @property
    def sorted_entries(self) -> tuple[FeedEntry, ...]:
        """Newest first, ties by release number: the order never depends on the input's."""
        return tuple(sorted(self.entries, key=lambda e: e.sort_key, reverse=True))

    def shown_entries(self) -> tuple[FeedEntry, ...]:
        """The entries every format shows, notices included, newest first."""
        return tuple(sorted((*self.entries, *self.notices), key=lambda e: e.sort_key, reverse=True))

    @property
    def sorted_tombstones(self) -> tuple[Tombstone, ...]:
        """Atom tombstones of retractions whose notice has left the feed. RFC 6721 lets an
        entry and a tombstone with the same id share a document, the newer one winning;
        leaving the tombstone out while the notice is shown keeps that unambiguous."""
        noticed = {n.id for n in self.notices}
        kept = (t for t in self.tombstones if t.ref not in noticed)
        return tuple(sorted(kept, key=lambda t: (t.when, t.ref), reverse=True))

    @property
    def updated(self) -> datetime:
        """The newest change shown: entry updates and retractions, never the render time."""
        times = [e.updated for e in (*self.entries, *self.notices)]
        times += [t.when for t in self.tombstones]
        return max(times, default=EMPTY_FEED_UPDATED)
