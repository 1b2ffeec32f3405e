"""Running the whole system (`syndicator run`) as a subprocess for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import httpx

from syndicator.events.signing import sign_headers
from syndicator.store import documents
from syndicator.store.db import Database
from tests.processes import spawn, stop, wait_for
from tests.sealing import ENCRYPTION_KEY
from tests.services import free_port

__all__ = ["RunningSystem", "run_cli", "stored_document", "system_env", "wait_for"]


def stored_document(database_url: str, path: str = "rss.xml") -> bytes | None:
    """A published feed document, as every web node would serve it, or None."""
    with Database(database_url) as db, db.session() as session:
        found = documents.load(session, path)
    return found.body if found else None


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``syndicator ARGS`` in a subprocess, on a terminal wide enough that rich never folds
    a line the asserts look for."""
    return subprocess.run(
        [sys.executable, "-m", "syndicator", *args],
        env={**os.environ, "COLUMNS": "400", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def system_env(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str, **extra: str
) -> dict[str, str]:
    """The environment of a system under test: its own data dir, database and Redis db."""
    return {
        "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
        "SYNDICATOR_DATABASE_URL": database_url,
        "SYNDICATOR_REDIS_URL": redis_url,
        "SYNDICATOR_CMS_SECRET": cms_secret,
        "SYNDICATOR_ADMIN_TOKEN": "admin-token-for-tests",
        "SYNDICATOR_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        **extra,
    }


class RunningSystem:
    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *args: str,
        set_base_url: bool = True,
        port: int | None = None,
    ) -> None:
        """``set_base_url=False`` leaves SYNDICATOR_BASE_URL unset: the run's port decides.
        ``port``: the one a run before this one used (a restart), else a free one."""
        self.args = args
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "SYNDICATOR_BASE_URL": self.url}
        if not set_base_url:
            del self.env["SYNDICATOR_BASE_URL"]
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        # One client: a new httpx client per call builds an SSL context (~50 ms).
        self.http = httpx.Client(timeout=10)

    def start(self) -> RunningSystem:
        run = ("syndicator", "run", "--port", str(self.port), *self.args)
        self.process = spawn(run, self.env, self.log_path)
        wait_for(self.ready, 300, "the system to become ready")
        return self

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"syndicator run exited:\n{self.log_tail()}")
        # The whole system: a consumer on every queue reaching the database, and beat.
        return self.http.get(f"{self.url}/readyz/pipeline", timeout=2).status_code == 200

    def log(self) -> str:
        """The whole log: a search for an early line (the demo loading) must not miss it
        because later lines pushed it out of a tail."""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, characters: int = 6000) -> str:
        """The end of the log, for a failure message."""
        return self.log()[-characters:]

    def publish(
        self,
        event: dict,
        msg_id: str | None = None,
        signed_at: datetime | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """POST ``event`` to the hook, signed now (or as at ``signed_at``: a skewed clock);
        ``timeout`` for a hook expected to wait (a database held busy)."""
        body = json.dumps(event, ensure_ascii=False).encode()
        secret = self.env["SYNDICATOR_CMS_SECRET"]
        headers = {
            "content-type": "application/json",
            **sign_headers(secret, body, msg_id=msg_id, now=signed_at),
        }
        extra = {"timeout": timeout} if timeout is not None else {}
        return self.http.post(f"{self.url}/hooks/cms", content=body, headers=headers, **extra)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(f"{self.url}{path}")

    def stop(self) -> None:
        self.http.close()
        if self.process is not None:
            stop([self.process], signal.SIGINT, timeout=40)  # Ctrl-C, as an operator stops it
