"""`syndicator web` in a subprocess, on a fresh SQLite database, for tests on the wire."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from syndicator.events.signing import generate_secret
from syndicator.store.migrate import upgrade
from tests.services import free_port
from tests.system import wait_for


@contextmanager
def web_process(tmp: Path, **env: str) -> Iterator[tuple[str, int]]:
    """Yields (host, port) once /healthz answers. Redis is away (the web only warns)."""
    database_url = f"sqlite:///{tmp / 'syndicator.db'}"
    upgrade(database_url)
    port = free_port()
    environment = {
        **os.environ,
        "SYNDICATOR_DATA_DIR": str(tmp / "var"),
        "SYNDICATOR_DATABASE_URL": database_url,
        "SYNDICATOR_REDIS_URL": "redis://127.0.0.1:1/0",
        "SYNDICATOR_CMS_SECRET": generate_secret(),
        "SYNDICATOR_ADMIN_TOKEN": "wire-test-admin-token",
        **env,
    }
    log_path = tmp / "web.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "web", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:

            def up() -> bool:
                if process.poll() is not None:
                    raise AssertionError(log_path.read_text())
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return answer.status_code == 200

            wait_for(up, 60, "syndicator web to answer")
            yield "127.0.0.1", port
        finally:
            process.terminate()
            process.wait(timeout=30)
