"""Slow and idle clients, bounded in the server `syndicator web` (and `syndicator run`) starts.

uvicorn times out an idle keep-alive connection, but only after a first response, and any
byte restarts it: a connection that sends nothing, or drips a header line every few
seconds, was held forever. nginx bounds this in production; ``--host 0.0.0.0`` must be
safe without it. Each connection here has, at any moment, at most one deadline:

- from the moment it opens, and again from the end of each response, the whole head of
  the next request must arrive within ``header_timeout`` (a total, not a pause: dripping
  bytes does not restart it);
- from the end of the head, the whole body must arrive within ``body_timeout``;
- while the app works on a request nothing is timed here.

A connection past its deadline is closed. Past ``max_connections`` open connections in
this process, a new one is answered 503 and closed at once. The server's own answers
(that 503, and 400 for a request it cannot parse) say nosniff like the app's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any

from syndicator.config import Settings
from syndicator.web.server import CoalescingHttpToolsProtocol

__all__ = ["BoundedHttpToolsProtocol", "ConnectionLimits", "bounded_protocol"]

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"retry-after: 1\r\n"
    b"content-length: 20\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"too many connections"
)


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 500

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.http_header_timeout,
            body_timeout=settings.http_body_timeout,
            max_connections=settings.http_max_connections,
        )


class BoundedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    """Pass ``bounded_protocol(limits)`` as ``uvicorn.run(http=...)``."""

    def __init__(self, *args: Any, limits: ConnectionLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or ConnectionLimits()
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's own answer to a request it cannot parse: the app's headers never reach
        # it, so it says nosniff here.
        body = msg.encode("ascii", "replace")
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"x-content-type-options: nosniff\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.transport.write(_BUSY)
            self.transport.close()
            return
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        # Bodiless requests complete at once (on_message_complete disarms it again).
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # The app is at work now, unless it already answered (then the next head is due).
        if not self.cycle.response_complete:
            self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # that request sent its head; the app takes it now
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._arm(self.limits.header_timeout)


def bounded_protocol(limits: ConnectionLimits) -> Any:
    """What ``uvicorn.run(http=...)`` takes: a picklable factory, so each worker process
    of ``syndicator web --workers N`` gets the same limits."""
    return partial(BoundedHttpToolsProtocol, limits=limits)
