"""A real uvicorn server in a thread, for tests that speak HTTP to the app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from syndicator.web.server import CoalescingHttpToolsProtocol


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
    server = uvicorn.Server(
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
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
