"""The Celery application and its reliability settings."""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab
from kombu import Exchange, Queue

from syndicator.channels.registry import ALL_QUEUES, EVENTS_QUEUE
from syndicator.ledger.claims import TASK_SOFT_TIME_LIMIT_SECONDS, TASK_TIME_LIMIT_SECONDS
from syndicator.runtime.lease import RENEW_SHARE
from syndicator.runtime.redis_urls import broker_transport_options, broker_url, redbeat_settings
from workers.settings import settings
from workers.task_names import (
    COMPLAINT_GUARD,
    DIGESTS,
    EXPIRE_NOTICES,
    FANOUT,
    PRUNE_ATTEMPTS,
    READ_BOUNCE_MAILBOX,
    SWEEP,
)

__all__ = ["RESTORE_SCAN_SECONDS", "app"]

SWEEP_SECONDS = 5.0
# Attempt-log retention runs hourly: each run is short, batches of 1,000 rows.
PRUNE_ATTEMPTS_SECONDS = 3600.0
# Digests: each run checks whether a daily or weekly digest is due (SYNDICATOR_DIGEST_HOUR,
# KST) and plans it once; checking often means a restart never skips a day.
DIGEST_CHECK_SECONDS = 300.0

# kombu only looks for abandoned messages every interval x throttle seconds (100 s by
# default); scan at a tenth of the visibility timeout instead.
RESTORE_SCAN_SECONDS = max(1, min(10, settings.visibility_timeout // 10))

app = Celery(
    "syndicator",
    broker=broker_url(settings),
    include=[
        "workers.tasks",
        "workers.mail_tasks",
        "workers.webhook_tasks",
        "workers.feed_tasks",
        "workers.lifecycle",
        "workers.bounce_tasks",
    ],
)
app.conf.update(
    # At-least-once: ack after the task body ran, requeue when the child dies.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # The visibility timeout is longer than any task may run (time limit below), so a
    # running task is not handed to a second worker, and short enough that a killed
    # worker's task returns within minutes. Long delays never ride on ETA messages:
    # they live in the ledger's next_attempt_at and the sweeper enqueues them when due.
    # The scan takes a Redis lock that outlives a worker killed while holding it, for 300 s
    # by default, and no worker restores anything until it expires. A scan takes
    # milliseconds, and an overlap is harmless (each restore is a WATCH transaction).
    broker_transport_options={
        "visibility_timeout": settings.visibility_timeout,
        "unacked_restore_interval": RESTORE_SCAN_SECONDS,
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": RESTORE_SCAN_SECONDS,
        # Through Sentinel: the master's name, and how to talk to the sentinels.
        **broker_transport_options(settings),
    },
    task_time_limit=TASK_TIME_LIMIT_SECONDS,
    task_soft_time_limit=TASK_SOFT_TIME_LIMIT_SECONDS,
    task_ignore_result=True,
    result_backend=None,
    # Events for Flower and celery-exporter.
    worker_send_task_events=True,
    task_send_sent_event=True,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_cancel_long_running_tasks_on_connection_loss=True,
    # Celery's consumer, surviving a Redis restart (see workers/consumer.py).
    worker_consumer="workers.consumer:Consumer",
    task_default_queue=EVENTS_QUEUE,
    # One exchange and routing key per queue: bindings can never send one message to two.
    task_queues=[
        Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ALL_QUEUES
    ],
    task_routes={
        FANOUT: {"queue": EVENTS_QUEUE},
        SWEEP: {"queue": EVENTS_QUEUE},
        PRUNE_ATTEMPTS: {"queue": EVENTS_QUEUE},
        DIGESTS: {"queue": EVENTS_QUEUE},
        COMPLAINT_GUARD: {"queue": EVENTS_QUEUE},
        EXPIRE_NOTICES: {"queue": EVENTS_QUEUE},
        READ_BOUNCE_MAILBOX: {"queue": EVENTS_QUEUE},
    },
    # Several beats may run (one per host, for failover): RedBeat lets the one holding its
    # lock schedule, and the outbox relay follows that lock (workers/scheduler.py). Beat
    # ticks, renewing the lock, at least four times per lock timeout. (By name: imported
    # here, RedBeat's start-up hook, which waits for the lock, would run before ours.)
    beat_scheduler="workers.scheduler:Scheduler",
    beat_max_loop_interval=settings.beat_lock_seconds * RENEW_SHARE,
    redbeat_lock_timeout=settings.beat_lock_seconds,
    **redbeat_settings(settings),
    beat_schedule={
        "sweep-due-deliveries": {"task": SWEEP, "schedule": SWEEP_SECONDS},
        "prune-delivery-attempts": {"task": PRUNE_ATTEMPTS, "schedule": PRUNE_ATTEMPTS_SECONDS},
        "plan-due-digests": {"task": DIGESTS, "schedule": DIGEST_CHECK_SECONDS},
        "check-complaint-rate": {
            "task": COMPLAINT_GUARD,
            "schedule": settings.complaint_check_seconds,
        },
        # 04:00 KST (Celery's clock is UTC): retraction notices past their window leave.
        "expire-retraction-notices": {
            "task": EXPIRE_NOTICES,
            "schedule": crontab(hour=19, minute=0),
        },
    },
)

# The bounce mailbox is read only where one is configured (workers/bounce_tasks.py).
if settings.bounce_mailbox:
    app.conf.beat_schedule["read-bounce-mailbox"] = {
        "task": READ_BOUNCE_MAILBOX,
        "schedule": settings.bounce_mailbox_poll_seconds,
    }

# Signal handlers (relay in beat, readiness in workers) must be connected in every process.
import workers.lifecycle  # noqa: E402, F401
