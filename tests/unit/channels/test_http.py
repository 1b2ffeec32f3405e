"""The httpx clients feed the shared classifier, through httpx.MockTransport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from syndicator.channels.http import async_client, parse_retry_after, send, send_async
from syndicator.channels.http_outcomes import HttpOutcome
from tests.services import free_port

Handler = Callable[[httpx.Request], httpx.Response]


def answered(handler: Handler, url: str = "https://partner.example/hook") -> HttpOutcome:
    with httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False) as client:
        return send(lambda: client.post(url, content=b"{}"))


def answered_async(handler: Handler, url: str = "https://partner.example/hook") -> HttpOutcome:
    async def post() -> HttpOutcome:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
            return await send_async(lambda: client.post(url, content=b"{}"))

    return asyncio.run(post())


def status(code: int, **headers: str) -> Handler:
    return lambda request: httpx.Response(code, headers=headers, text="partner says hi")


@pytest.mark.parametrize("through", [answered, answered_async])
@pytest.mark.parametrize(
    ("code", "ok", "retryable"),
    [
        (200, True, False),
        (204, True, False),
        (301, False, True),
        (302, False, True),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (408, False, True),
        (409, False, True),
        (410, False, False),
        (413, False, False),
        (425, False, True),
        (429, False, True),
        (500, False, True),
        (502, False, True),
        (503, False, True),
        (504, False, True),
    ],
)
def test_statuses_are_classified_once(
    through: Callable[[Handler], HttpOutcome], code: int, ok: bool, retryable: bool
):
    result = through(status(code))
    assert (result.ok, result.retryable, result.status_code) == (ok, retryable, code)
    assert result.error_class == (None if ok else "redirect" if code < 400 else "http")
    assert str(code) in result.detail and result.response == "partner says hi"


def test_a_redirect_is_a_failure_never_followed():
    followed: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        followed.append(str(request.url))
        return httpx.Response(307, headers={"location": "https://elsewhere.example/"})

    result = answered(handler)
    assert followed == ["https://partner.example/hook"]
    assert not result.ok and "elsewhere.example" in (result.detail or "")


def test_retry_after_in_seconds_and_as_a_date_is_honoured_and_clamped():
    assert answered(status(429, **{"retry-after": "120"})).retry_after == 120
    in_an_hour = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    result = answered(status(503, **{"retry-after": in_an_hour}))
    assert result.retry_after is not None and 3590 < result.retry_after <= 3600
    assert answered(status(503, **{"retry-after": "9999999"})).retry_after == 24 * 3600
    # Only an answer meaning "slow down" delays a retry (see channels/http_outcomes.py).
    assert answered(status(400, **{"retry-after": "60"})).retry_after is None
    assert answered(status(500, **{"retry-after": "60"})).retry_after is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("-5", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: now
        ("Thu, 01 Jan 2026 00:01:00 GMT", 60.0),
        ("Thursday, 01-Jan-26 00:01:00 GMT", 60.0),  # RFC 850, obsolete but allowed
        ("Fri, 01 Jan 2027 00:00:00 GMT", 24 * 3600.0),  # clamped to a day
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(value, now) == seconds


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize("through", [answered, answered_async])
@pytest.mark.parametrize(
    ("exc", "error_class", "retryable"),
    [
        (httpx.ReadTimeout("slow"), "timeout", True),
        (httpx.ConnectTimeout("slow"), "timeout", True),
        (httpx.ConnectError("refused"), "connect", True),
        (httpx.RemoteProtocolError("garbage"), "http", True),
        (httpx.DecodingError("bad gzip"), "http", True),
        (httpx.UnsupportedProtocol("ftp"), "invalid-url", False),
    ],
)
def test_errors_are_classified_not_raised(
    through: Callable[[Handler], HttpOutcome], exc: Exception, error_class: str, retryable: bool
):
    result = through(raising(exc))
    assert (result.ok, result.error_class, result.retryable) == (False, error_class, retryable)


def test_an_invalid_url_is_permanent():
    result = answered(status(200), url="http://[::1")
    assert (result.ok, result.retryable, result.error_class) == (False, False, "invalid-url")


def test_a_refused_connection_through_aiohttp_is_a_connect_error_not_a_timeout():
    """httpx-aiohttp maps every aiohttp connection error to ConnectTimeout."""

    async def post() -> HttpOutcome:
        async with async_client() as client:
            url = f"http://127.0.0.1:{free_port()}/hook"
            return await send_async(lambda: client.post(url, content=b"{}"))

    result = asyncio.run(post())
    assert (result.error_class, result.retryable, result.status_code) == ("connect", True, 0)


def test_an_outcome_carries_the_classification():
    outcome = answered(status(429, **{"retry-after": "7"})).outcome(42, duration_ms=3.0)
    assert (outcome.delivery_id, outcome.ok, outcome.retryable) == (42, False, True)
    assert (outcome.error_class, outcome.retry_after, outcome.duration_ms) == ("http", 7, 3)
    assert (outcome.status_code, outcome.response) == (429, "partner says hi")
