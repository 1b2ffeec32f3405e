"""What an HTTP delivery's answer or error means: one pure classifier for every client.

Both HTTP clients (httpx for WebSub, raw aiohttp for partner webhooks) hand what happened
to :func:`classify` and log what it says, so an operator reads one vocabulary in the
console, the partner delivery log and the metrics, whatever channel made the request.

======================  ==========  ==========================================================
error class             retryable   when
======================  ==========  ==========================================================
(none)                  -           2xx: delivered
``redirect``            yes         3xx: never followed (a receiver that moved says so in its
                                    configuration, not by redirecting signed deliveries)
``http``                yes         408, 409, 425, 429, any 5xx, any 1xx, a status above 599,
                                    and an answer that is not HTTP at all (status 0)
``http``                no          every other 4xx, 410 Gone included
``timeout``             yes         no connection, or no whole answer, in time
``connect``             yes         refused, reset, unreachable, dropped before an answer
``dns``                 yes         the name does not resolve
``tls``                 yes         handshake or certificate failure
``ssrf-refused``        yes         the guard refused the address DNS gave (DNS may be fixed)
``invalid-url``         no          a URL no client can send to; it does not heal by itself
======================  ==========  ==========================================================

The status goes in ``status_code`` (0 when nothing answered), never in the class: the
class says *what kind* of trouble, the status *which* answer, each in its own column.

Two choices, where the clients used to disagree:

- **409 Conflict is retryable.** A webhook receiver answers 409 when it is busy with the
  same ``webhook-id`` or its own state is mid-change; both pass. The retry schedule bounds
  the cost, and a permanent 409 would drop a delivery the receiver would have taken a
  minute later.
- **``Retry-After`` is honoured on 429, 502, 503 and 504 only** (:data:`THROTTLE_STATUS`).
  RFC 9110 gives it meaning on 503 (and RFC 6585 on 429); 502 and
  504 are a gateway passing its upstream's overload on. On a 500 or a 408 the header is
  a framework's leftover more often than a request, and would let one receiver push its
  own retries out by a day. It is clamped to 0 … :data:`MAX_RETRY_AFTER_SECONDS`.

An error is classified by the most specific cause in its chain (``__cause__`` and
``__context__``): a DNS failure inside a connection error is ``dns``. The httpx-aiohttp
transport re-raises every aiohttp connection error as ``httpx.ConnectTimeout``; such a
wrapper is skipped for the aiohttp error it wraps, so both clients agree.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import httpx

from syndicator.channels.base import MAX_RETRY_AFTER_SECONDS, DeliveryOutcome
from syndicator.partners.ssrf import GuardRefused

__all__ = [
    "ERROR_CLASSES",
    "RESPONSE_LIMIT",
    "RETRYABLE_4XX",
    "THROTTLE_STATUS",
    "HttpOutcome",
    "classify",
    "parse_retry_after",
]

ERROR_CLASSES = (
    "redirect",
    "http",
    "timeout",
    "connect",
    "dns",
    "tls",
    "ssrf-refused",
    "invalid-url",
)
# Enough of an answer to read a receiver's error page, bounded so a log row stays small.
RESPONSE_LIMIT = 20_000
# Answers meaning "slow down": their Retry-After is a floor for the next attempt.
THROTTLE_STATUS = frozenset({429, 502, 503, 504})
# Worth another try on schedule; every other 4xx will be refused again.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_DETAIL_CHARS = 1000
_INVALID_URL = (
    httpx.InvalidURL,
    httpx.UnsupportedProtocol,
    aiohttp.InvalidURL,
    aiohttp.NonHttpUrlClientError,
)


@dataclass(frozen=True)
class HttpOutcome:
    ok: bool
    retryable: bool
    error_class: str | None  # None on success, else one of ERROR_CLASSES
    detail: str
    status_code: int = 0  # 0: no HTTP answer
    retry_after: float | None = None  # seconds, clamped
    response: str | None = None  # an excerpt of the answer's body

    def outcome(
        self,
        delivery_id: int,
        duration_ms: float | None = None,
        *,
        endpoint: str | None = None,
        message_id: str | None = None,
    ) -> DeliveryOutcome:
        return DeliveryOutcome(
            delivery_id,
            ok=self.ok,
            retryable=self.retryable,
            error_class=self.error_class,
            detail=self.detail,
            duration_ms=duration_ms,
            retry_after=self.retry_after,
            status_code=self.status_code,
            response=self.response,
            endpoint=endpoint,
            message_id=message_id,
        )


def classify(
    status: int | None,
    headers: Mapping[str, str] | None = None,
    exception: BaseException | None = None,
    *,
    body: str = "",
    now: datetime | None = None,
) -> HttpOutcome:
    """The outcome of one request: an answer's ``status`` and ``headers`` (``body`` is an
    excerpt, kept for the log), or the ``exception`` that stopped it. Pure."""
    if exception is not None or status is None:
        return _failed(exception)
    return _answered(status, headers or {}, body[:RESPONSE_LIMIT] or None, now)


def _answered(
    status: int, headers: Mapping[str, str], response: str | None, now: datetime | None
) -> HttpOutcome:
    if 200 <= status < 300:
        return HttpOutcome(True, False, None, f"answered {status}", status, None, response)
    if 300 <= status < 400:
        where = headers.get("location", "?")
        detail = f"answered {status}, a redirect to {where}: not followed"
        return HttpOutcome(False, True, "redirect", detail, status, None, response)
    retryable = not 400 <= status < 500 or status in RETRYABLE_4XX
    retry_after = (
        parse_retry_after(headers.get("retry-after"), now) if status in THROTTLE_STATUS else None
    )
    detail = f"answered {status}"
    if status == 410:
        detail += " Gone: the partner is disabled"
    return HttpOutcome(False, retryable, "http", detail, status, retry_after, response)


def _failed(exception: BaseException | None) -> HttpOutcome:
    if exception is None:
        return HttpOutcome(False, True, "http", "no answer and no error")
    error_class, detail = _error_class(exception)
    return HttpOutcome(False, error_class != "invalid-url", error_class, detail)


def _error_class(exc: BaseException) -> tuple[str, str]:
    causes = list(_chain(exc))
    detail = "; ".join(dict.fromkeys(f"{type(c).__name__}: {c}" for c in causes))
    detail = detail[:_DETAIL_CHARS]
    for cause in causes:
        if isinstance(cause, GuardRefused):
            return "ssrf-refused", cause.reason
    for cause in causes:
        if isinstance(cause, _INVALID_URL):
            return "invalid-url", detail
    for cause in causes:
        if isinstance(cause, aiohttp.ClientConnectorDNSError | socket.gaierror):
            return "dns", detail
        if isinstance(cause, aiohttp.ClientSSLError | ssl.SSLError):
            return "tls", detail
        if isinstance(cause, httpx.TimeoutException | asyncio.TimeoutError):
            return "timeout", detail
    for cause in causes:
        if isinstance(
            cause, httpx.NetworkError | httpx.ProxyError | aiohttp.ClientConnectionError | OSError
        ):
            return "connect", detail
    return "http", detail  # a malformed answer: not HTTP, a bad encoding, a broken body


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes, outermost first, without httpx-aiohttp's wrappers."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if not _wrapper(current):
            yield current
        current = current.__cause__ or current.__context__


def _wrapper(exc: BaseException) -> bool:
    return isinstance(exc, httpx.HTTPError) and isinstance(
        exc.__cause__, aiohttp.ClientError | asyncio.TimeoutError
    )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now, clamped to 0 … 1 day; None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT; the obsolete forms carry no zone
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
