"""Process hooks: the relay runs in the active beat process; workers announce consumption
and close their channels' connections when they exit."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_task
from celery.signals import (
    beat_init,
    setup_logging,
    task_success,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

from syndicator.channels.registry import ALL_QUEUES
from syndicator.logs import configure_logging, kv
from syndicator.runtime.coordination import mark_consuming
from syndicator.runtime.heap import settle_heap
from syndicator.runtime.lease import Lease
from syndicator.runtime.preflight import preflight
from syndicator.tracing import configure_tracing, instrument_celery
from workers.heartbeat import Heartbeat
from workers.process import close_runtime, runtime, worker_id
from workers.relay import Relay
from workers.settings import settings
from workers.task_names import HEARTBEAT

log = logging.getLogger("syndicator.workers")

_relay: Relay | None = None
_heartbeat: Heartbeat | None = None


class _TaskId(logging.Filter):
    """Puts the running task's id on every line logged while it runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task
        request = getattr(task, "request", None) if task else None
        if request is not None and getattr(request, "id", None):
            record.task_id = request.id
        return True


@setup_logging.connect
def one_log_format(**_: Any) -> None:
    """Connected, so Celery installs no handler of its own: worker and beat lines come out
    like every other process's (SYNDICATOR_LOG_FORMAT), whatever --loglevel says."""
    configure_logging(settings.log_level, settings.log_format).addFilter(_TaskId())


def _check_or_exit(role: str) -> None:
    """Refuse to start without the database at the right schema and Redis: one line, exit 1.
    (SystemExit passes through Celery's signal dispatch, which logs and swallows Exception.)"""
    problems = preflight(settings)
    if problems:
        for problem in problems:
            log.error(kv(msg=f"{role} cannot start", check=problem.check, problem=str(problem)))
        raise SystemExit(f"syndicator {role}: {problems[0]}")


@worker_init.connect
def check_before_consuming(**_: Any) -> None:
    _check_or_exit("worker")


@worker_process_init.connect  # each prefork child: span exporters do not survive a fork
def trace_tasks(**_: Any) -> None:
    if configure_tracing(settings, "syndicator-worker"):
        instrument_celery()


@worker_process_init.connect  # connected after tracing: its objects are settled with the rest
def settle_child(**_: Any) -> None:
    """Build the process's runtime (engine, Redis client, channels; nothing connects yet)
    before the first task rather than in it, then settle the heap (runtime/heap.py)."""
    runtime()
    try:
        worker_id()  # registered and heartbeating before it takes a task
    except Exception as exc:  # the database away: the first task registers it
        log.warning(kv(msg="worker not registered yet", error=f"{type(exc).__name__}: {exc}"))
    settle_heap()


@beat_init.connect
def start_relay(sender: Any = None, **_: Any) -> None:
    global _relay
    _check_or_exit("beat")
    lease = getattr(sender.scheduler, "lease", None)
    if not isinstance(lease, Lease):
        # Another scheduler (`beat -S ...`) would schedule beside the active beat's.
        log.error(kv(msg="beat cannot start", problem="not the syndicator scheduler"))
        raise SystemExit("syndicator beat: run it without -S (workers.scheduler:Scheduler)")
    if configure_tracing(settings, "syndicator-beat"):
        instrument_celery()  # the relay's sends carry the hook's trace on
    _relay = Relay(sender.app, lease)
    _relay.start()
    log.info(kv(msg="outbox relay started; it relays while this beat holds the beat lock"))


@worker_ready.connect
def start_heartbeat(sender: Any = None, **_: Any) -> None:
    global _heartbeat
    if sender is None:
        return
    queues = [q.name for q in sender.app.amqp.queues.consume_from.values()]
    _heartbeat = Heartbeat(sender.app, queues, settings.queue_heartbeat_seconds)
    _heartbeat.start()


@task_success.connect
def prove_consumption(sender: Any = None, **_: Any) -> None:
    """A task this worker took off a queue and finished proves, as a heartbeat does, that
    the queue is consumed and the database answers (every task reads or writes it; one
    that cannot fails instead). A queue busy with a long newsletter holds its heartbeat
    tasks behind the work until they expire, and must not look abandoned meanwhile."""
    request = getattr(sender, "request", None)
    if request is None or getattr(sender, "name", None) == HEARTBEAT:
        return  # the heartbeat records its own database check
    queue = (request.delivery_info or {}).get("routing_key")
    if queue not in ALL_QUEUES:
        return
    try:
        mark_consuming(
            runtime().redis,
            queue,
            worker=request.hostname or "",
            ttl=settings.queue_proof_ttl,
            window=settings.consumer_window,
        )
    except Exception as exc:  # Redis away: readiness says so itself
        log.warning(kv(msg="consumption not recorded", error=f"{type(exc).__name__}: {exc}"))


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
