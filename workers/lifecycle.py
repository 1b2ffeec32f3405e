"""Process hooks: the relay runs in the single beat process; workers announce consumption
and close their channels' connections when they exit."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import (
    beat_init,
    worker_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

from syndicator.config import load_settings
from syndicator.logs import kv
from syndicator.runtime.preflight import preflight
from workers.heartbeat import Heartbeat
from workers.process import close_runtime
from workers.relay import Relay

log = logging.getLogger("syndicator.workers")

_relay: Relay | None = None
_heartbeat: Heartbeat | None = None


def _check_or_exit(role: str) -> None:
    """Refuse to start without the database at the right schema and Redis: one line, exit 1.
    (SystemExit passes through Celery's signal dispatch, which logs and swallows Exception.)"""
    problems = preflight(load_settings())
    if problems:
        for problem in problems:
            log.error(kv(msg=f"{role} cannot start", check=problem.check, problem=str(problem)))
        raise SystemExit(f"syndicator {role}: {problems[0]}")


@worker_init.connect
def check_before_consuming(**_: Any) -> None:
    _check_or_exit("worker")


@beat_init.connect
def start_relay(sender: Any = None, **_: Any) -> None:
    global _relay
    _check_or_exit("beat")
    _relay = Relay(sender.app)
    _relay.start()
    log.info(kv(msg="outbox relay started"))


@worker_ready.connect
def start_heartbeat(sender: Any = None, **_: Any) -> None:
    global _heartbeat
    if sender is None:
        return
    queues = [q.name for q in sender.app.amqp.queues.consume_from.values()]
    _heartbeat = Heartbeat(sender.app, queues)
    _heartbeat.start()


@worker_shutting_down.connect
def stop_threads(**_: Any) -> None:
    for thread in (_relay, _heartbeat):
        if thread is not None:
            thread.stop()


@worker_process_shutdown.connect  # a prefork child
@worker_shutdown.connect  # the main process (solo and threads pools run tasks there)
def close_channels(**_: Any) -> None:
    try:
        close_runtime()
    except Exception as exc:  # exiting anyway
        log.warning(kv(msg="could not close channels", error=str(exc)))
