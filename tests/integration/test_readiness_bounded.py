"""Readiness answers while a dependency hangs, naming it, instead of hanging with it.

The database and Redis are real sockets that accept a connection and never say a word
(what a database server frozen mid-restart, or a dropped route, look like): every check
has its own deadline, so `/readyz` and `/readyz/pipeline` still answer, not ready, and
name what did not answer. The client's timeout is only a bound against hanging: without
the deadlines it is what fails."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from syndicator.config import Settings
from syndicator.runtime.readiness import CHECK_SECONDS
from syndicator.web.app import create_app
from tests.live_server import serve

ADMIN = {"Authorization": "Bearer test-admin-token"}


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections, reads nothing and answers nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stopping.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@pytest.mark.parametrize("silent", ["database", "redis", "both"])
def test_readiness_answers_and_names_what_does_not(app_settings: Settings, silent: str):
    with silent_server() as port:
        changes: dict[str, object] = {}
        if silent in ("database", "both"):
            changes["database_url"] = f"postgresql+psycopg://u:pw@127.0.0.1:{port}/frozen"
        if silent in ("redis", "both"):
            # A client timeout far longer than readiness waits: the deadline must decide.
            changes["redis_url"] = f"redis://127.0.0.1:{port}/0?socket_timeout=120"
        app = create_app(app_settings.with_(**changes))
        # Generous next to CHECK_SECONDS: a bound against hanging, not a speed check.
        bound = httpx.Timeout(10 * CHECK_SECONDS + 10)
        with serve(app) as url, httpx.Client(base_url=url, timeout=bound) as http:
            ready = http.get("/readyz", headers=ADMIN)
            pipeline = http.get("/readyz/pipeline", headers=ADMIN)
    assert ready.status_code == 503, ready.text
    checks = ready.json()["checks"]
    details = ready.json()["details"]
    for name in ("database", "redis"):
        if silent in (name, "both"):
            assert checks[name] == "unreachable"
            assert "did not answer" in details[name], details
        else:
            assert checks[name] == "ok"
    assert pipeline.status_code == 503, pipeline.text
    causes = " | ".join(pipeline.json()["causes"])
    if silent == "database":
        assert "cannot read the outbox: the database did not answer" in causes
    else:
        assert "cannot reach Redis" in causes
