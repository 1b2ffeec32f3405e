"""Cached, validated file representations: one stat per request, bytes read once per version.

A version is identified by (mtime_ns, size, inode): the publisher replaces files with
os.replace, so a new version always has a new inode and the cache notices it on the next stat.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime

import anyio.to_thread

__all__ = [
    "Representation",
    "RepresentationCache",
    "accepts_gzip",
    "is_not_modified",
]

Headers = list[tuple[bytes, bytes]]
VersionKey = tuple[int, int, int]

_GZIP_MIN_BYTES = 512  # below this gzip's header costs more than it saves
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


def _version(stat: os.stat_result) -> VersionKey:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def make_representation(
    key: VersionKey | None, body: bytes, mtime: float, headers: Sequence[tuple[bytes, bytes]]
) -> Representation:
    seconds = int(mtime)
    common = [*headers, (b"last-modified", formatdate(seconds, usegmt=True).encode())]
    etag = hashlib.sha256(body).hexdigest()[:32]
    return Representation(key, body, etag, seconds, common)


class RepresentationCache:
    """``lookup`` costs one ``os.stat``; bytes are read only when the version changed."""

    def __init__(self, build: Callable[[str, bytes], tuple[bytes, Headers]]) -> None:
        # build(path, file bytes) -> (body, headers): identity for feeds, a template for HTML.
        # Paths are plain strings: pathlib costs more than the rest of a cache hit.
        self._build = build
        self._entries: OrderedDict[str, Representation] = OrderedDict()

    def cached(self, path: str) -> tuple[Representation | None, os.stat_result | None]:
        """The cached representation if still current, and the stat (None: no such file)."""
        try:
            stat = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._entries.pop(path, None)
            return None, None
        found = self._entries.get(path)
        if found is not None and found.key == _version(stat):
            self._entries.move_to_end(path)
            return found, stat
        return None, stat

    def load(self, path: str) -> Representation | None:
        """Read and build a new version; pure work, safe to run in a worker thread."""
        try:
            with open(path, "rb") as handle:
                # fstat the handle we read: the path may have been replaced since the stat.
                current = os.fstat(handle.fileno())
                data = handle.read()
        except (FileNotFoundError, IsADirectoryError):
            return None
        body, headers = self._build(path, data)
        return make_representation(_version(current), body, current.st_mtime, headers)

    def remember(self, path: str, rep: Representation) -> None:
        """Keep ``rep`` for later hits; called on the event loop, so no lock is needed."""
        self._entries[path] = rep
        self._entries.move_to_end(path)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)

    async def get(self, path: str) -> Representation | None:
        """The current representation of ``path``, or None if there is no such file."""
        rep, stat = self.cached(path)
        if rep is None and stat is not None:
            rep = await anyio.to_thread.run_sync(self.load, path)
            if rep is not None:
                self.remember(path, rep)
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
