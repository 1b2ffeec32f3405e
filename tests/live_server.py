"""A real uvicorn server in a thread, for tests that speak HTTP to the app."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from syndicator.web.server import CoalescingHttpToolsProtocol


class _Server(uvicorn.Server):
    """uvicorn's server, stopped by an event instead of at its next 0.1 s tick: tests start
    and stop one over a thousand times."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000  # as uvicorn counts: its Date header every 1 s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def stop(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed already
                self._loop.call_soon_threadsafe(self._wake.set)


@contextmanager
def serve(app: Any, port: int | None = None, http: Any = None) -> Iterator[str]:
    """``http``: the protocol, as `syndicator web` passes it; its write coalescing alone
    by default (no deadlines, no connection cap)."""
    # Bound here and handed over: a port probed free and bound later could be taken in
    # between by another xdist worker's server, and this test would talk to that one.
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart on the same port
        sock.bind(("127.0.0.1", port or 0))
    except OSError:
        sock.close()  # not left for the next test's collector to report
        raise
    port = int(sock.getsockname()[1])
    server = _Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            http=http or CoalescingHttpToolsProtocol,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(timeout=30)
        sock.close()
