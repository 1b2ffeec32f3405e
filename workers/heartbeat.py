"""Workers prove they are alive themselves: every few seconds each worker sends a heartbeat
task to each queue it consumes. The task that a worker takes off the queue checks the
database and records the result, so readiness means "consuming, and reaching the
database", and it does not depend on beat being up."""

from __future__ import annotations

import logging
import threading

from celery import Celery

from syndicator.logs import kv
from workers.task_names import HEARTBEAT

__all__ = ["Heartbeat"]

log = logging.getLogger("syndicator.workers")


class Heartbeat(threading.Thread):
    """Every ``seconds`` (SYNDICATOR_QUEUE_HEARTBEAT_SECONDS), a heartbeat on each queue."""

    def __init__(self, app: Celery, queues: list[str], seconds: float) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.app = app
        self.queues = queues
        self.seconds = seconds
        self.stopping = threading.Event()

    def beat_once(self) -> None:
        for queue in self.queues:
            # Expires: a heartbeat nobody consumed for three periods proves nothing later.
            self.app.send_task(
                HEARTBEAT, args=[queue], queue=queue, expires=self.seconds * 3, retry=False
            )

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.beat_once()
            except Exception as exc:  # Redis away: readiness says so until it returns
                log.warning(kv(msg="heartbeat not sent", error=f"{type(exc).__name__}: {exc}"))
            self.stopping.wait(self.seconds)

    def stop(self) -> None:
        self.stopping.set()
