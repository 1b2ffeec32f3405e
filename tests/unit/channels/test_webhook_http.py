"""How answers and errors are classified for the attempt log."""

from __future__ import annotations

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey

from syndicator.channels.webhook_http import classify_answer, classify_exception
from syndicator.partners.ssrf import GuardRefused, UrlRefused

KEY = ConnectionKey("partner.example", 443, True, True, None, None, None)


@pytest.mark.parametrize(
    ("status", "ok", "retryable", "error_class"),
    [
        (200, True, False, None),
        (204, True, False, None),
        (301, False, True, "redirect"),
        (302, False, True, "redirect"),
        (400, False, False, "http"),
        (410, False, False, "http"),
        (429, False, True, "http"),
        (500, False, True, "http"),
        (503, False, True, "http"),
    ],
)
def test_answers(status: int, ok: bool, retryable: bool, error_class: str | None):
    result = classify_answer(status, {}, "")
    assert (result.ok, result.retryable, result.error_class) == (ok, retryable, error_class)
    assert result.status_code == status


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_throttling_answers_carry_retry_after(status: int):
    assert classify_answer(status, {"retry-after": "3"}, "").retry_after == 3


def test_other_failures_ignore_retry_after():
    assert classify_answer(500, {"retry-after": "3"}, "").retry_after is None


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
    assert classify_exception(wrapped(dns_refused)) == ("ssrf-refused", "10.0.0.1 is private")
    dns = aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "Name or service not known"))
    assert classify_exception(wrapped(dns))[0] == "dns"
    refused_port = aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "refused"))
    assert classify_exception(wrapped(refused_port))[0] == "connect"
    assert classify_exception(wrapped(aiohttp.ConnectionTimeoutError()))[0] == "timeout"
    cert = aiohttp.ClientConnectorCertificateError(KEY, Exception("bad cert"))
    assert classify_exception(wrapped(cert))[0] == "tls"
