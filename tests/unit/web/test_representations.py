"""Header parsing behind the feed routes: Accept-Encoding and the two validators."""

from __future__ import annotations

import gzip

import pytest

from syndicator.web.representations import accepts_gzip, is_not_modified, make_representation

BODY = "대구광역시 보도자료 ".encode() * 100
REP = make_representation((1, len(BODY), 1), BODY, 1_700_000_000.9, [])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        (b"", False),
        (b"gzip", True),
        (b"gzip, deflate, br", True),
        (b"br;q=1.0, GZIP;q=0.5", True),
        (b"gzip;q=0", False),
        (b"gzip;q=0.000", False),
        (b"gzip; q=0.001", True),
        (b"identity", False),
        (b"*", True),
        (b"*;q=0", False),
        (b"gzip;q=0, *", False),  # the explicit refusal wins over the wildcard
        (b"x-gzip", True),
    ],
)
def test_accepts_gzip(header: bytes | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "expected"),
    [
        (None, None, False),
        (f'"{REP.etag}"'.encode(), None, True),
        (f'W/"{REP.etag}"'.encode(), None, True),
        (f'"{REP.etag}-gzip"'.encode(), None, True),
        (f'"a", "{REP.etag}"'.encode(), None, True),
        (b"*", None, True),
        (b'"other"', None, False),
        (b'"other"', b"Tue, 14 Nov 2023 22:13:20 GMT", False),  # If-None-Match decides
        (None, b"Tue, 14 Nov 2023 22:13:20 GMT", True),  # == Last-Modified
        (None, b"Tue, 14 Nov 2023 22:13:19 GMT", False),
        (None, b"Tue, 14 Nov 2023 22:13:20 -0000", True),
        (None, b"not a date", False),
    ],
)
def test_is_not_modified(
    if_none_match: bytes | None, if_modified_since: bytes | None, expected: bool
) -> None:
    assert is_not_modified(REP, if_none_match, if_modified_since) is expected


def test_representation_headers() -> None:
    ok = dict(REP.ok_headers)
    assert ok[b"last-modified"] == b"Tue, 14 Nov 2023 22:13:20 GMT"
    assert ok[b"content-length"] == str(len(BODY)).encode()
    zipped = dict(REP.gzip_headers())
    assert zipped[b"content-encoding"] == b"gzip"
    assert gzip.decompress(REP.gzip_body()) == BODY
    assert zipped[b"etag"] == f'"{REP.etag}-gzip"'.encode() != ok[b"etag"]
    assert REP.gzip_body() is REP.gzip_body()  # compressed once
    small = make_representation(None, b"{}", 0, [])
    assert not small.use_gzip(b"gzip")
