"""httpx clients for HTTP channels (WebSub), classified by ``channels/http_outcomes.py``.

Clients are made here, so every channel gets the same bounded waits and never follows a
redirect. Async channels use httpx on the ``httpx-aiohttp`` transport: with 200 requests
in flight it measured an order of magnitude more requests per second than httpx's own
async pool (see the README's benchmarks). Partner webhooks post through aiohttp directly
(``channels/webhook_http.py``); both feed the same classifier.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from syndicator.channels.http_outcomes import HttpOutcome, classify, parse_retry_after
from syndicator.tracing import instrument_http_client

__all__ = [
    "TIMEOUT",
    "async_client",
    "classify_response",
    "parse_retry_after",
    "send",
    "send_async",
    "sync_client",
]

# A partner that does not answer within 15 s is slow, not busy.
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def classify_response(response: httpx.Response) -> HttpOutcome:
    return classify(response.status_code, response.headers, body=response.text)


def send(call: Callable[[], httpx.Response]) -> HttpOutcome:
    """Make the request and classify what happened; never raises for HTTP or network."""
    try:
        return classify_response(call())
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return classify(None, exception=exc)


async def send_async(call: Callable[[], Awaitable[httpx.Response]]) -> HttpOutcome:
    try:
        return classify_response(await call())
    # httpx-aiohttp lets the aiohttp errors it does not map through (a malformed answer).
    except (httpx.HTTPError, httpx.InvalidURL, aiohttp.ClientError) as exc:
        return classify(None, exception=exc)


def sync_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False)


def async_client(max_connections: int = 200) -> httpx.AsyncClient:
    """Open inside the event loop that will use it (the aiohttp session binds to it)."""
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=max_connections))
    client = httpx.AsyncClient(transport=transport, timeout=TIMEOUT, follow_redirects=False)
    instrument_http_client(client)
    return client
