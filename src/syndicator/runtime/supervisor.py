"""Run the web app, the workers and the scheduler as children of one process.

Ctrl-C (or SIGTERM) asks every child to stop, waits for a warm shutdown,
then kills what is left. If one child dies, the others are stopped too, so a
half-running system never looks healthy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syndicator.logs import kv

__all__ = ["Child", "Supervisor"]

log = logging.getLogger("syndicator.run")


@dataclass(frozen=True)
class Child:
    name: str
    command: Sequence[str]


class Supervisor:
    def __init__(self, children: Sequence[Child], env: Mapping[str, str]) -> None:
        self.children = children
        self.env = dict(env)
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._stop = False

    def start(self) -> None:
        for child in self.children:
            # A new session: the terminal's Ctrl-C reaches only us, and we stop
            # the children in order.
            process = subprocess.Popen(
                list(child.command), env=self.env, stdin=subprocess.DEVNULL, start_new_session=True
            )
            self.running[child.name] = process
            log.info(kv(msg="started", process=child.name, pid=process.pid))

    def _request_stop(self, signum: int, _frame: object) -> None:
        self._stop = True

    def wait(self) -> int:
        """Block until a signal or a child's exit; return the exit code to use."""
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        code = 0
        while not self._stop:
            for name, process in self.running.items():
                if process.poll() is not None:
                    log.error(
                        kv(
                            msg="child exited; stopping everything",
                            process=name,
                            code=process.returncode,
                        )
                    )
                    self._stop, code = True, 1
                    break
            time.sleep(0.2)
        self.stop()
        return code

    def stop(self, grace_seconds: float = 20.0) -> None:
        # SIGTERM goes to each child alone, not its group: a Celery worker's pool
        # processes must finish their task while the worker shuts down warm, and
        # a signal of their own would kill them mid-task (WorkerLostError).
        for process in self.running.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for name, process in self.running.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(kv(msg="killing after grace period", process=name))
            # Whatever the child left in its group (or all of it, after the
            # grace) goes now, so nothing outlives `syndicator run`.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.running.clear()
