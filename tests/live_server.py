"""A real uvicorn server in a thread, for tests that speak HTTP to the app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from syndicator.web.server import CoalescingHttpToolsProtocol
from tests.services import free_port


@contextmanager
def serve(app: Any, port: int | None = None, http: Any = None) -> Iterator[str]:
    """``http``: the protocol, as `syndicator web` passes it; its write coalescing alone
    by default (no deadlines, no connection cap)."""
    port = port or free_port()
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
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
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
