"""Process hooks: the relay runs in the single beat process; workers announce consumption."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import beat_init, worker_ready, worker_shutting_down

from syndicator.logs import kv
from syndicator.runtime.coordination import mark_consuming
from workers.process import runtime
from workers.relay import Relay

log = logging.getLogger("syndicator.workers")

_relay: Relay | None = None


@beat_init.connect
def start_relay(sender: Any = None, **_: Any) -> None:
    global _relay
    _relay = Relay(sender.app)
    _relay.start()
    log.info(kv(msg="outbox relay started"))


@worker_ready.connect
def announce_consuming(sender: Any = None, **_: Any) -> None:
    queues = [q.name for q in sender.app.amqp.queues.consume_from.values()] if sender else []
    try:
        for queue in queues:
            mark_consuming(runtime().redis, queue)
    except Exception as exc:  # readiness follows with the next heartbeat
        log.warning(kv(msg="could not announce queues", error=str(exc)))


@worker_shutting_down.connect
def stop_relay(**_: Any) -> None:
    if _relay is not None:
        _relay.stop()
