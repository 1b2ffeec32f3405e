"""Cached, validated representations of published documents: prebuilt headers, gzip once."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime

import anyio.to_thread

from syndicator.logs import kv
from syndicator.store import documents
from syndicator.store.db import Database

__all__ = [
    "DocumentCache",
    "Representation",
    "accepts_gzip",
    "is_not_modified",
]

Headers = list[tuple[bytes, bytes]]
VersionKey = tuple[int, int, int]

_GZIP_MIN_BYTES = 512  # below this gzip's header costs more than it saves
log = logging.getLogger("syndicator.web")

_MAX_ENTRIES = 512  # archives are ~100 KB each; bound memory whatever the history length


@dataclass(slots=True)
class Representation:
    """One version of one document, with every header list it can be sent with prebuilt:
    the hot path only picks a list and a body."""

    key: VersionKey | None
    body: bytes
    etag: str  # without quotes
    mtime: int  # whole seconds, what Last-Modified says
    headers: Headers  # shared by all answers: type, validators' dates, caching, links
    ok_headers: Headers = field(default_factory=list)
    not_modified: Headers = field(default_factory=list)
    _gzip: bytes | None = field(default=None, repr=False)
    _gzip_headers: Headers | None = field(default=None, repr=False)
    _gzip_not_modified: Headers | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        etag = (b"etag", f'"{self.etag}"'.encode())
        self.ok_headers = [*self.headers, etag, (b"content-length", b"%d" % len(self.body))]
        self.not_modified = [*self.headers, etag]

    def gzip_body(self) -> bytes:
        if self._gzip is None:
            # mtime=0: the same bytes gzip to the same bytes, so the gzip ETag stays true.
            self._gzip = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzip

    def gzip_headers(self) -> Headers:
        if self._gzip_headers is None:
            etag = (b"etag", f'"{self.etag}-gzip"'.encode())
            length = (b"content-length", b"%d" % len(self.gzip_body()))
            self._gzip_headers = [*self.headers, etag, (b"content-encoding", b"gzip"), length]
        return self._gzip_headers

    def gzip_not_modified(self) -> Headers:
        if self._gzip_not_modified is None:
            etag = (b"etag", f'"{self.etag}-gzip"'.encode())
            self._gzip_not_modified = [*self.headers, etag]
        return self._gzip_not_modified

    def use_gzip(self, accept_encoding: bytes | None) -> bool:
        return len(self.body) >= _GZIP_MIN_BYTES and accepts_gzip(accept_encoding)


def make_representation(
    key: VersionKey | None, body: bytes, mtime: float, headers: Sequence[tuple[bytes, bytes]]
) -> Representation:
    seconds = int(mtime)
    common = [*headers, (b"last-modified", formatdate(seconds, usegmt=True).encode())]
    etag = hashlib.sha256(body).hexdigest()[:32]
    return Representation(key, body, etag, seconds, common)


class DocumentCache:
    """Published documents from the database, kept in memory for the hot path.

    A hit costs a dict lookup. At most every ``check_every`` seconds one cheap query asks
    which documents changed since the version this process knows (any host may have
    published them) and drops just those; a miss reads one row in a worker thread.
    :meth:`refresh` asks at once: a publisher's announcement (web/document_push.py).
    """

    def __init__(
        self,
        db: Database,
        build: Callable[[str, bytes], tuple[bytes, Headers]],
        check_every: float = 1.0,
    ) -> None:
        # build(path, stored bytes) -> (body, headers): identity for feeds, a page for HTML.
        self._db = db
        self._build = build
        self._check_every = check_every
        self._entries: OrderedDict[str, Representation | None] = OrderedDict()
        self._version = -1  # nothing known yet
        self._checked = -math.inf
        self._checking = asyncio.Lock()  # one query at a time, in the order asked
        # Bumped whenever documents are dropped: a load that began before a drop may
        # hold the old bytes, so it is served once but not kept.
        self._drops = 0

    def _changes(self) -> tuple[int, list[str]]:
        with self._db.replica_session() as session:
            if self._version < 0:  # a cold cache drops nothing: it holds nothing
                return documents.current_version(session), []
            changed = documents.changed_since(session, self._version)
        newest = max((version for _, version in changed), default=self._version)
        return newest, [path for path, _ in changed]

    def load(self, path: str) -> Representation | None:
        """Read and build one document; pure work, safe to run in a worker thread."""
        with self._db.replica_session() as session:
            doc = documents.load(session, path)
        if doc is None:
            return None
        body, headers = self._build(path, doc.body)
        return make_representation(
            (doc.version, 0, 0), body, doc.last_modified.timestamp(), headers
        )

    async def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self._check_every:
            return
        self._checked = now  # before awaiting: requests meanwhile serve what is held
        await self.refresh()

    async def refresh(self) -> None:
        """Drop what changed since the version this process knows, now. A call made while
        a check runs waits for it and asks again: that check may predate the change."""
        async with self._checking:
            self._checked = time.monotonic()
            try:
                version, changed = await anyio.to_thread.run_sync(self._changes)
            except Exception as exc:  # the database is away: keep serving what we hold
                log.warning(kv(msg="feed cache check failed; serving cached", error=repr(exc)))
                return
            for path in changed:
                self._entries.pop(path, None)
            if changed:
                self._drops += 1
                log.debug(kv(msg="feed cache dropped", documents=len(changed), version=version))
            self._version = max(self._version, version)

    def _remember(self, path: str, rep: Representation | None) -> None:
        self._entries[path] = rep
        self._entries.move_to_end(path)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)

    async def get(self, path: str) -> Representation | None:
        """The current representation of ``path``, or None if nothing is published there."""
        await self._refresh()
        if path in self._entries:
            return self._entries[path]
        drops = self._drops
        rep = await anyio.to_thread.run_sync(self.load, path)
        if drops == self._drops:
            self._remember(path, rep)  # a miss too: a publish that adds it bumps the version
        return rep


def _quality(params: bytes) -> float:
    for param in params.split(b";"):
        name, _, value = param.partition(b"=")
        if name.strip() == b"q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def accepts_gzip(accept_encoding: bytes | None) -> bool:
    """RFC 9110 12.5.3: an explicit gzip entry decides; otherwise ``*`` does."""
    if not accept_encoding:
        return False
    wildcard = False
    for part in accept_encoding.lower().split(b","):
        coding, _, params = part.partition(b";")
        coding = coding.strip()
        if coding in (b"gzip", b"x-gzip"):
            return _quality(params) > 0
        if coding == b"*":
            wildcard = _quality(params) > 0
    return wildcard


def _etag_matches(if_none_match: bytes, etag: str) -> bool:
    if if_none_match.strip() == b"*":
        return True
    plain = etag.encode()
    for candidate in if_none_match.split(b","):
        tag = candidate.strip()
        if tag.startswith(b"W/"):
            tag = tag[2:]  # If-None-Match uses the weak comparison (RFC 9110 13.1.2)
        tag = tag.strip(b'"')
        if tag in (plain, plain + b"-gzip"):
            return True
    return False


def is_not_modified(
    rep: Representation, if_none_match: bytes | None, if_modified_since: bytes | None
) -> bool:
    if if_none_match is not None:
        # When both are sent, If-None-Match decides alone (RFC 9110 13.2.2).
        return _etag_matches(if_none_match, rep.etag)
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since.decode("latin-1"))
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # "-0000": HTTP dates are always GMT
        return rep.mtime <= since.timestamp()
    return False
