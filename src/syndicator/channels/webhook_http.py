"""Posting one signed partner delivery, and classifying what happened, for the attempt log.

The session connects only through the SSRF guard's resolver (:class:`GuardedResolver`),
never follows a redirect, bounds connect and total time, and keeps at most
:data:`RESPONSE_LIMIT` bytes of an answer. Error classes are the words operators read:

``dns`` (the name does not resolve), ``connect`` (refused, reset, unreachable),
``timeout``, ``tls`` (handshake or certificate), ``http`` (an answer that is not 2xx or
3xx, or not HTTP at all), ``redirect`` (3xx, not followed), ``ssrf-refused``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import aiohttp

from syndicator.channels.http import parse_retry_after
from syndicator.partners.ssrf import AsyncResolve, GuardedResolver, GuardRefused
from syndicator.tracing import aiohttp_trace_configs

__all__ = [
    "RESPONSE_LIMIT",
    "THROTTLE_STATUS",
    "PostResult",
    "classify_answer",
    "classify_exception",
    "guarded_session",
    "post",
]

# Svix keeps 20,000 bytes of an answer; so does the attempt log.
RESPONSE_LIMIT = 20_000
# Answers meaning "slow down": their Retry-After is a floor for the next attempt.
THROTTLE_STATUS = frozenset({429, 502, 503, 504})
# Worth another try on schedule; every other 4xx will be refused again.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class PostResult:
    ok: bool
    retryable: bool
    status_code: int  # 0: no HTTP answer
    error_class: str | None
    detail: str
    response: str | None = None
    retry_after: float | None = None


def guarded_session(
    allowed_networks: Sequence[str],
    max_connections: int = 200,
    resolve: AsyncResolve | None = None,
) -> aiohttp.ClientSession:
    """An aiohttp session whose every name is resolved and checked by the guard; open it
    in the loop that will use it. aiohttp directly: with 200 requests in flight it posts
    ~40 % more per second than httpx over the same aiohttp transport, and a fan-out to
    partners is bound by exactly that (webhooks.md, "Measured")."""
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        resolver=GuardedResolver(allowed_networks, resolve),
        # aiohttp's own verifying context, made once at import (in the parent, before the
        # fork): a context loads the system's CA file, tens of ms per process otherwise.
        ssl=True,
    )
    # No cookie jar: a partner's cookies must never ride along to it (or another partner
    # on the same host) in a later delivery, and none is filtered for every request.
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        trace_configs=aiohttp_trace_configs(),
    )


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    total_timeout: float,
    connect_timeout: float,
) -> PostResult:
    """Post ``body`` and classify the answer; never raises for HTTP or network trouble."""
    timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
    try:
        async with session.post(
            url, data=body, headers=dict(headers), allow_redirects=False, timeout=timeout
        ) as answer:
            excerpt = await _excerpt(answer)
            return classify_answer(answer.status, answer.headers, excerpt)
    except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
        why = "no connection" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "no answer"
        return _failed("timeout", f"{why} within {total_timeout:g} s ({type(exc).__name__})")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return _failed(*classify_exception(exc))


async def _excerpt(answer: aiohttp.ClientResponse) -> str:
    kept = bytearray()
    while len(kept) < RESPONSE_LIMIT:
        chunk = await answer.content.read(RESPONSE_LIMIT - len(kept))
        if not chunk:
            break
        kept += chunk
    # The rest is never read: a huge answer costs no more than 20 KB.
    return kept.decode("utf-8", errors="replace")


def classify_answer(status: int, headers: Mapping[str, str], excerpt: str) -> PostResult:
    response = excerpt or None
    if 200 <= status < 300:
        return PostResult(True, False, status, None, f"answered {status}", response)
    if 300 <= status < 400:
        where = headers.get("location", "?")
        detail = f"answered {status}, a redirect to {where}: not followed"
        return PostResult(False, True, status, "redirect", detail, response)
    retryable = status >= 500 or status in _RETRYABLE_4XX
    throttled = status in THROTTLE_STATUS
    retry_after = parse_retry_after(headers.get("retry-after")) if throttled else None
    detail = f"answered {status}"
    if status == 410:
        detail += " Gone: the partner is disabled"
    return PostResult(False, retryable, status, "http", detail, response, retry_after)


def _failed(error_class: str, detail: str) -> PostResult:
    # Every network failure may heal: DNS, a refused port, even an address the guard
    # refused today (the partner's DNS may be fixed). The schedule bounds the cost.
    return PostResult(False, True, 0, error_class, detail)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """The error class of a failed request, from the most specific cause in its chain."""
    causes = list(_chain(exc))
    detail = "; ".join(dict.fromkeys(f"{type(c).__name__}: {c}" for c in causes))[:1000]
    for cause in causes:
        if isinstance(cause, GuardRefused):
            return "ssrf-refused", cause.reason
    for cause in causes:
        if isinstance(cause, aiohttp.ClientConnectorDNSError):
            return "dns", detail
        if isinstance(cause, aiohttp.ClientSSLError | ssl.SSLError):
            return "tls", detail
        if isinstance(cause, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
            return "timeout", detail
    for cause in causes:
        if isinstance(cause, aiohttp.ClientConnectionError | ConnectionError | OSError):
            return "connect", detail
    return "http", detail  # a malformed answer, or a URL aiohttp cannot send to
