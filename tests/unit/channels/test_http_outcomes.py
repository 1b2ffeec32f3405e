"""One classification of HTTP answers and errors, whatever client made the request."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from httpx_aiohttp.transport import map_aiohttp_exceptions
from hypothesis import given
from hypothesis import strategies as st

from syndicator.channels.base import MAX_RETRY_AFTER_SECONDS
from syndicator.channels.http_outcomes import (
    ERROR_CLASSES,
    RETRYABLE_4XX,
    THROTTLE_STATUS,
    classify,
)
from syndicator.partners.ssrf import GuardRefused, UrlRefused

KEY = ConnectionKey("partner.example", 443, True, True, None, None, None)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "ok", "retryable", "error_class"),
    [
        (200, True, False, None),
        (204, True, False, None),
        (301, False, True, "redirect"),
        (302, False, True, "redirect"),
        (400, False, False, "http"),
        (409, False, True, "http"),
        (410, False, False, "http"),
        (429, False, True, "http"),
        (500, False, True, "http"),
        (503, False, True, "http"),
    ],
)
def test_answers(status: int, ok: bool, retryable: bool, error_class: str | None):
    result = classify(status, {})
    assert (result.ok, result.retryable, result.error_class) == (ok, retryable, error_class)
    assert result.status_code == status


def test_a_redirect_names_where_it_pointed_and_gone_says_so():
    assert "elsewhere.example" in classify(307, {"location": "https://elsewhere.example/"}).detail
    assert "Gone" in classify(410, {}).detail


@pytest.mark.parametrize("status", sorted(THROTTLE_STATUS))
def test_throttling_answers_carry_retry_after(status: int):
    assert classify(status, {"retry-after": "3"}).retry_after == 3


@pytest.mark.parametrize("status", [300, 408, 409, 425, 500, 501, 400])
def test_other_answers_ignore_retry_after(status: int):
    assert classify(status, {"retry-after": "3"}).retry_after is None


statuses = st.integers(min_value=100, max_value=999)
header_values = st.text(max_size=40) | st.integers(-(10**6), 10**9).map(str)
headers = st.dictionaries(
    st.sampled_from(["retry-after", "location", "content-type", "x-anything"]), header_values
)


@given(statuses, headers, st.text(max_size=50))
def test_every_answer_gets_one_class_from_the_table(
    status: int, answer_headers: dict[str, str], body: str
):
    result = classify(status, answer_headers, body=body, now=NOW)
    assert result.status_code == status and result.response == (body or None)
    assert result.ok is (200 <= status < 300)
    if result.ok:
        assert result.error_class is None and not result.retryable
        return
    assert result.error_class in ERROR_CLASSES
    assert result.error_class == ("redirect" if 300 <= status < 400 else "http")
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    assert result.retryable is not permanent
    assert str(status) in result.detail
    if result.retry_after is not None:
        assert status in THROTTLE_STATUS
        assert 0 <= result.retry_after <= MAX_RETRY_AFTER_SECONDS


@given(st.sampled_from(sorted(THROTTLE_STATUS)), st.integers(0, 10**8))
def test_retry_after_in_seconds_is_honoured_and_clamped(status: int, seconds: int):
    result = classify(status, {"retry-after": str(seconds)}, now=NOW)
    assert result.retry_after == min(seconds, MAX_RETRY_AFTER_SECONDS)


def wrapped(cause: BaseException) -> httpx.HTTPError:
    try:
        try:
            raise cause
        except BaseException as exc:
            raise httpx.ConnectError("wrapped") from exc
    except httpx.HTTPError as outer:
        return outer


def test_errors_are_classified_by_their_cause():
    refused = GuardRefused(UrlRefused("10.0.0.1 is private"))
    dns_refused = aiohttp.ClientConnectorDNSError(KEY, refused)
    dns_refused.__cause__ = refused
    result = classify(None, exception=wrapped(dns_refused))
    assert (result.error_class, result.detail) == ("ssrf-refused", "10.0.0.1 is private")
    dns = aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "Name or service not known"))
    assert classify(None, exception=wrapped(dns)).error_class == "dns"
    refused_port = aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "refused"))
    assert classify(None, exception=wrapped(refused_port)).error_class == "connect"
    timeout = wrapped(aiohttp.ConnectionTimeoutError())
    assert classify(None, exception=timeout).error_class == "timeout"
    cert = aiohttp.ClientConnectorCertificateError(KEY, Exception("bad cert"))
    assert classify(None, exception=wrapped(cert)).error_class == "tls"


def _caused(outer: Callable[[], BaseException], inner: BaseException) -> BaseException:
    """``outer`` raised while handling ``inner``, as httpcore and aiohttp chain them."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer()  # noqa: B904 - an implicit __context__, as libraries leave it
    except BaseException as exc:
        return exc


# What each client raises for the same trouble, and the class both must get.
AIOHTTP_ERRORS: list[tuple[Callable[[], BaseException], str]] = [
    (lambda: aiohttp.ClientConnectorDNSError(KEY, socket.gaierror(-2, "no such name")), "dns"),
    (lambda: aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "no")), "connect"),
    (lambda: aiohttp.ServerDisconnectedError(), "connect"),
    (lambda: aiohttp.ClientOSError(104, "reset"), "connect"),
    (lambda: aiohttp.ConnectionTimeoutError(), "timeout"),
    (lambda: aiohttp.SocketTimeoutError(), "timeout"),
    (lambda: aiohttp.ServerTimeoutError(), "timeout"),
    (lambda: aiohttp.ClientSSLError(KEY, ssl.SSLError(1, "handshake")), "tls"),
    (lambda: aiohttp.ClientConnectorCertificateError(KEY, Exception("bad")), "tls"),
    (lambda: aiohttp.ClientPayloadError("broken body"), "http"),
    (lambda: aiohttp.client_exceptions.InvalidUrlClientError("http://[::1"), "invalid-url"),
    (lambda: aiohttp.client_exceptions.NonHttpUrlClientError("ftp://x/"), "invalid-url"),
]
HTTPX_ERRORS: list[tuple[Callable[[], BaseException], str]] = [
    (lambda: _caused(lambda: httpx.ConnectError("x"), socket.gaierror(-2, "no")), "dns"),
    (lambda: _caused(lambda: httpx.ConnectError("x"), ConnectionRefusedError(111)), "connect"),
    (lambda: httpx.ReadError("reset"), "connect"),
    (lambda: httpx.ConnectTimeout("slow"), "timeout"),
    (lambda: httpx.ReadTimeout("slow"), "timeout"),
    (lambda: httpx.PoolTimeout("busy"), "timeout"),
    (lambda: _caused(lambda: httpx.ConnectError("x"), ssl.SSLError(1, "bad")), "tls"),
    (lambda: httpx.RemoteProtocolError("garbage"), "http"),
    (lambda: httpx.DecodingError("bad gzip"), "http"),
    (lambda: httpx.UnsupportedProtocol("ftp"), "invalid-url"),
    (lambda: httpx.InvalidURL("http://[::1"), "invalid-url"),
]


def through_httpx_aiohttp(error: BaseException) -> BaseException:
    """What httpx on the httpx-aiohttp transport raises for an aiohttp error."""
    try:
        with map_aiohttp_exceptions():
            raise error
    except BaseException as exc:
        return exc
    raise AssertionError("not raised")


@given(st.sampled_from(AIOHTTP_ERRORS), st.booleans())
def test_both_clients_classify_an_aiohttp_error_alike(
    case: tuple[Callable[[], BaseException], str], inside_httpx: bool
):
    make, expected = case
    error = make()
    if inside_httpx:
        error = through_httpx_aiohttp(error)
    result = classify(None, exception=error)
    assert result.error_class == expected
    assert (result.ok, result.status_code, result.retry_after) == (False, 0, None)
    assert result.retryable is (expected != "invalid-url")


@given(st.sampled_from(HTTPX_ERRORS), st.sampled_from([None, 200, 503]))
def test_an_error_wins_over_any_status_and_is_classified_by_its_cause(
    case: tuple[Callable[[], BaseException], str], status: int | None
):
    make, expected = case
    result = classify(status, {"retry-after": "5"}, make())
    assert (result.error_class, result.status_code, result.retry_after) == (expected, 0, None)
    assert result.retryable is (expected != "invalid-url") and not result.ok


def test_a_guard_refusal_deep_in_the_chain_names_the_reason():
    refused = GuardRefused(UrlRefused("127.0.0.1 is loopback"))
    error = through_httpx_aiohttp(_caused(lambda: aiohttp.ClientOSError(1, "x"), refused))
    result = classify(None, exception=error)
    assert (result.error_class, result.detail, result.retryable) == (
        "ssrf-refused",
        "127.0.0.1 is loopback",
        True,
    )
