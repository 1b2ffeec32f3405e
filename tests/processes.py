"""The project's own processes under test (`syndicator web`, `syndicator run`, Celery
workers and beat), started one way for every test and benchmark: ``python -m ...`` in a
process group of its own, its output appended to a log file, waited for by polling what
it serves, and stopped group and all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TypeVar

import httpx

from syndicator.channels.registry import ALL_QUEUES
from syndicator.events.signing import generate_secret
from syndicator.store.migrate import upgrade
from tests import system_slots
from tests.services import free_port

__all__ = [
    "CeleryProcesses",
    "WebNode",
    "children_of",
    "kill_group",
    "spawn",
    "stop",
    "wait_for",
    "web_node",
    "web_process",
]

T = TypeVar("T")
Process = subprocess.Popen[bytes]


def wait_for(check: Callable[[], T | None], seconds: float = 60.0, what: str = "condition") -> T:
    """Poll until ``check`` returns something truthy; a bound, not a timing assertion."""
    deadline = time.monotonic() + seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # the system may still be starting
            last_error = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last error: {last_error!r}")


def spawn(module_args: Sequence[str], env: Mapping[str, str], log_path: Path) -> Process:
    """``python -m MODULE_ARGS`` in a process group of its own, so that a stop reaches
    every child it forks; its output is appended to ``log_path``."""
    system_slots.hold()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *module_args],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return system_slots.track(process)


def stop(
    processes: Iterable[Process], sig: signal.Signals = signal.SIGTERM, timeout: float = 30
) -> None:
    """Signal every group first (they shut down side by side), then wait for each; a group
    still there after ``timeout`` seconds is killed."""
    running = list(processes)
    for process in running:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
    for process in running:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def children_of(pid: int) -> list[int]:
    """The process ids whose parent is ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def kill_group(process: Process) -> None:
    """SIGKILL, as the OOM killer or a power cut does: the group, and any child that
    left it."""
    children = children_of(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


class WebNode(NamedTuple):
    url: str  # http://127.0.0.1:<port>
    process: Process


@contextmanager
def web_node(env: Mapping[str, str], log_path: Path, *args: str) -> Iterator[WebNode]:
    """`syndicator web ARGS` on a free port, yielded once /healthz answers."""
    port = free_port()
    process = spawn(("syndicator", "web", "--port", str(port), *args), env, log_path)
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(log_path.read_text(errors="replace"))
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200

        wait_for(up, 60, "syndicator web to answer")
        yield WebNode(url, process)
    finally:
        stop([process])


@contextmanager
def web_process(tmp: Path, **env: str) -> Iterator[tuple[str, int]]:
    """`syndicator web` on a fresh SQLite database, Redis away (the web only warns);
    yields (host, port) once it answers."""
    database_url = f"sqlite:///{tmp / 'syndicator.db'}"
    upgrade(database_url)
    environment = {
        **os.environ,
        "SYNDICATOR_DATA_DIR": str(tmp / "var"),
        "SYNDICATOR_DATABASE_URL": database_url,
        "SYNDICATOR_REDIS_URL": "redis://127.0.0.1:1/0",
        "SYNDICATOR_CMS_SECRET": generate_secret(),
        "SYNDICATOR_ADMIN_TOKEN": "wire-test-admin-token",
        **env,
    }
    with web_node(environment, tmp / "web.log") as node:
        host, _, port = node.url.removeprefix("http://").partition(":")
        yield host, int(port)


class CeleryProcesses:
    """Celery workers and beat of one system under test, each logging to ``logs/<name>.log``."""

    def __init__(self, env: Mapping[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.running: list[Process] = []

    def start(self, name: str, *args: str) -> Process:
        process = spawn(("celery", "-A", "workers.app", *args), self.env, self.logs / f"{name}.log")
        self.running.append(process)
        return process

    def syndicator(self, name: str, *args: str) -> Process:
        """A ``syndicator`` command (``worker``, ``beat``) the way an operator starts it."""
        process = spawn(("syndicator", *args), self.env, self.logs / f"{name}.log")
        self.running.append(process)
        return process

    def worker(self, name: str, queues: Sequence[str] = ALL_QUEUES) -> Process:
        return self.start(
            name,
            "worker",
            "-Q",
            ",".join(queues),
            "--concurrency",
            "1",
            "--hostname",
            f"{name}@%h",
            "--loglevel",
            "INFO",
        )

    def stop_all(self) -> None:
        stop(self.running)
