"""The outbox relay: moves committed events to the broker, in the beat process.

It polls the database, so an event accepted while Redis was down goes out when
Redis returns; a nudge from the web app wakes it early so latency stays low.
Of several beats, only the one holding the beat lock relays, and only while its lease
on that lock lasts (workers/scheduler.py); the others wait, taking no nudge.
"""

from __future__ import annotations

import logging
import threading

import redis
from celery import Celery

from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.intake.outbox import relay_once
from syndicator.logs import kv
from syndicator.runtime.coordination import OUTBOX_NUDGE_KEY, mark_beat
from syndicator.runtime.lease import Lease
from syndicator.runtime.redis_urls import redis_client
from workers.process import runtime
from workers.task_names import FANOUT

__all__ = ["Relay"]

log = logging.getLogger("syndicator.relay")

POLL_SECONDS = 1.0


class Relay(threading.Thread):
    def __init__(self, app: Celery, lease: Lease) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.app = app
        self.lease = lease
        self.stopping = threading.Event()

    def _send(self, event_id: str) -> None:
        # By name: the relay never imports the tasks (tasks import the app, which loads us).
        self.app.send_task(FANOUT, args=[event_id], queue=EVENTS_QUEUE, retry=False)
        log.info(kv(msg="event relayed", event_id=event_id))

    def _wait(self, client: redis.Redis) -> None:
        try:
            client.blpop([OUTBOX_NUDGE_KEY], timeout=POLL_SECONDS)
        except redis.RedisError:
            self.stopping.wait(POLL_SECONDS)

    def run_once(self) -> int:
        return relay_once(runtime().db, self._send, allowed=self.lease.held)

    def run(self) -> None:
        rt = runtime()
        # A separate client: BLPOP holds its connection for the whole wait.
        waiter = redis_client(rt.settings, timeout=POLL_SECONDS + 5)
        while not self.stopping.is_set():
            if not self.lease.held():
                # Another beat is active (or this one is renewing its lock late): its
                # relay takes the nudges, and this one waits without one.
                self.stopping.wait(POLL_SECONDS)
                continue
            try:
                # The active beat is alive: /readyz/pipeline looks for this.
                mark_beat(waiter, rt.settings.queue_proof_ttl)
                self.run_once()
            except Exception as exc:
                log.warning(
                    kv(msg="relay paused: broker unavailable", error=f"{type(exc).__name__}: {exc}")
                )
                self.stopping.wait(POLL_SECONDS)
            self._wait(waiter)

    def stop(self) -> None:
        self.stopping.set()
