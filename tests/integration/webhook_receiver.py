"""A real partner for webhook tests: an aiohttp server in a thread, scripted per path.

Each partner is a path, ``/p/<name>``. Its answers are scripted in order (status,
headers, delay); once the script runs out it answers 200. Every request is kept with
its headers and exact body, and the receiver deduplicates on ``webhook-id`` as a
partner should. Every signed body is validated against the event catalog's JSON Schema
(tests/envelopes.py): a test whose partner received an envelope its schema refuses fails
when the receiver closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.envelopes import envelope_problem
from tests.services import free_port

__all__ = ["Received", "Receiver", "Reply", "receiver"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    body: bytes = b"ok"
    reset: bool = False  # answer nothing: reset the connection (TCP RST) instead
    # Answer only once the test sets this (at most a minute): the request stays in flight.
    until: threading.Event | None = None


@dataclass(frozen=True)
class Received:
    partner: str
    headers: dict[str, str]
    body: bytes
    at: float  # monotonic, when the request arrived
    answered: int  # the status it got (0: the connection was reset instead)
    peer_port: int = 0  # the sender's source port (an egress proxy's, through one)


class Receiver:
    def __init__(self, port: int, scheme: str = "http") -> None:
        self.port = port
        self.scheme = scheme
        self.requests: list[Received] = []
        # Envelopes the event catalog's schemas refuse: (partner, why).
        self.invalid: list[tuple[str, str]] = []
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()

    def url(self, partner: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/p/{partner}"

    def script(self, partner: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[partner] = list(replies)

    def hang(self, partner: str, seconds: float = 3600) -> None:
        """Answer nothing for ``seconds``, every time."""
        with self._lock:
            self._scripts[partner] = [Reply(delay=seconds)] * 10_000

    def to(self, partner: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.partner == partner]

    def unique_ids(self, partner: str | None = None) -> list[str]:
        """webhook-ids once each, as a deduplicating partner keeps them."""
        with self._lock:
            seen = [r.headers["webhook-id"] for r in self.requests if partner in (None, r.partner)]
        return list(dict.fromkeys(seen))

    def _next(self, partner: str) -> Reply:
        with self._lock:
            script = self._scripts.get(partner)
            return script.pop(0) if script else Reply()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        partner = request.match_info["partner"]
        body = await request.read()
        reply = self._next(partner)
        # Kept on arrival: a partner has the delivery even if the sender dies waiting.
        with self._lock:
            headers = {k.lower(): v for k, v in request.headers.items()}
            answered = 0 if reply.reset else reply.status
            peer = request.transport.get_extra_info("peername") if request.transport else None
            self.requests.append(
                Received(partner, headers, body, time.monotonic(), answered, peer[1] if peer else 0)
            )
        if "webhook-id" in headers and (problem := envelope_problem(body)) is not None:
            with self._lock:
                self.invalid.append((partner, problem))
        if reply.until is not None:
            await asyncio.get_running_loop().run_in_executor(None, reply.until.wait, 60)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.reset:
            _reset(request)
        return web.Response(status=reply.status, headers=reply.headers, body=reply.body)


def _reset(request: web.Request) -> None:
    """Drop the connection with a RST (SO_LINGER 0), as a crashing partner or a firewall
    does: the sender reads ECONNRESET, not an answer."""
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _shutdown(runner: web.AppRunner) -> None:
    await runner.cleanup()
    # Handlers still sleeping (a partner that hangs) end with the receiver.
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


@contextmanager
def receiver(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """``tls``: serve https with this context (one that may require client certificates)."""
    port = free_port()
    partner = Receiver(port, "https" if tls else "http")
    app = web.Application()
    app.router.add_route("*", "/p/{partner}", partner.handle)
    app.router.add_route("*", "/p/{partner}/{rest:.*}", partner.handle)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="webhook-receiver", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the webhook receiver did not start")
    try:
        yield partner
    finally:
        future = asyncio.run_coroutine_threadsafe(_shutdown(runner), loop)
        with contextlib.suppress(Exception):
            future.result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
    assert not partner.invalid, f"envelopes the event catalog refuses: {partner.invalid[:3]}"
