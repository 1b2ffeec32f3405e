"""Thin tasks: load by id, call the delivery layer, enqueue what follows."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from celery import Task

from syndicator.channels.base import BatchContext, CoalescingChannel, Deadline
from syndicator.delivery.coalescer import Coalescer
from syndicator.delivery.runner import BATCH_SECONDS, Enqueue, load_event, plan_event, run_due
from syndicator.intake.outbox import resend_unplanned
from syndicator.ledger.chunks import chunked
from syndicator.ledger.claims import due_for_retry, has_due, suspects_due
from syndicator.ledger.poison import suspect_claim_size
from syndicator.logs import kv
from syndicator.runtime.coordination import mark_consuming
from syndicator.runtime.liveness import release_lost
from syndicator.store.outage import RETRY_AFTER_SECONDS, is_unavailable
from workers.app import RESTORE_SCAN_SECONDS, app
from workers.process import heard_for, runtime, worker_id
from workers.task_names import DELIVER, DELIVER_PENDING, FANOUT, HEARTBEAT, SWEEP

__all__ = ["deliver", "deliver_pending", "enqueue", "fanout", "heartbeat", "sweep"]

log = logging.getLogger("syndicator.tasks")


def enqueue(work: Iterable[Enqueue]) -> None:
    channels = runtime().channels
    for item in work:
        channel = channels[item.channel]
        if channel.coalesce:
            deliver_pending.apply_async(args=[item.channel], queue=channel.queue)
            continue
        ids, size = list(item.delivery_ids), channel.batch_size
        for start in range(0, len(ids), size):
            deliver.apply_async(args=[item.channel, ids[start : start + size]], queue=channel.queue)


# A fan-out the database interrupted (a restart, a switchover) runs again this often, this
# many times (five minutes), before it is left to the sweeper's resend of lost fan-outs.
FANOUT_RETRIES = 60


@app.task(name=FANOUT, bind=True, max_retries=FANOUT_RETRIES)
def fanout(self: Task, event_id: str) -> None:
    rt = runtime()
    try:
        event = load_event(rt.db, event_id)
        if event is None:
            log.error(kv(msg="fan-out for unknown event", event_id=event_id))
            return
        # Each page of ids is queued as soon as it is planned: 100,000 ids are never in
        # memory. Planning again finds the rows already made.
        plan_event(rt.db, rt.channels, event, lambda item: enqueue([item]))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        log.warning(kv(msg="fan-out interrupted: database unavailable", event_id=event_id))
        raise self.retry(exc=exc, countdown=RETRY_AFTER_SECONDS) from exc


@app.task(name=DELIVER)
def deliver(channel: str, delivery_ids: list[int]) -> None:
    """Rows not started by the deadline, safely before the soft time limit, go back to
    pending unspent and are queued again; the outcomes of the others are already recorded.
    An async channel's batch also takes due rows queued for later tasks as its own finish."""
    batch = BatchContext(Deadline.after(BATCH_SECONDS), worker=worker_id())
    rt = runtime()
    enqueue(run_due(rt.db, rt.channels[channel], delivery_ids, batch, top_up=True))


@app.task(name=DELIVER_PENDING)
def deliver_pending(channel_name: str) -> None:
    """Coalesce: one run at a time takes every due row; requests during it fold in."""
    rt = runtime()
    channel = rt.channels[channel_name]
    assert isinstance(channel, CoalescingChannel), channel_name
    # The lock's own short TTL, renewed while the run lasts: a worker killed with -9 holds
    # the next run up for seconds, not for the task time limit.
    coalescer = Coalescer(rt.redis, channel_name, min_interval=channel.min_interval)

    def has_work() -> bool:
        with rt.db.read_session() as session:
            return has_due(session, channel_name)

    def run() -> None:
        batch = BatchContext(Deadline.after(BATCH_SECONDS), worker=worker_id())
        enqueue(run_due(rt.db, channel, None, batch))

    again = coalescer.request(run, has_work)
    if again is not None:
        # A short countdown (the spacing of a burst, or the lock's few seconds), far
        # below the visibility timeout.
        deliver_pending.apply_async(args=[channel_name], queue=channel.queue, countdown=again)


@app.task(name=SWEEP)
def sweep() -> None:
    """Release the claims of worker processes that are gone, then enqueue retries whose
    time has come (those rows among them), rows whose task was lost, and fan-outs the
    broker lost."""
    rt = runtime()
    stale = rt.settings.worker_stale_after
    worker_id()  # this process heartbeats too, so it knows whether it was heard itself
    # After a database outage every heartbeat is old: judge others silent only once this
    # process has been heard for as long itself, by which time the live ones have beaten.
    release_lost(rt.db, stale, heartbeats=heard_for() >= stale.total_seconds())
    with rt.db.session() as session:
        due = due_for_retry(session)
        suspects = suspects_due(session)
    if due:
        log.info(kv(msg="sweeper enqueued", **{k: len(v) for k, v in due.items()}))
    enqueue(Enqueue(channel, tuple(ids)) for channel, ids in due.items() if channel in rt.channels)
    # Rows a lost worker held go in smaller tasks each time: a poison row among them ends
    # up alone, and takes no one with it (ledger/poison.py).
    enqueue(
        Enqueue(channel, tuple(part))
        for (channel, crashes), ids in suspects.items()
        if channel in rt.channels
        for part in chunked(ids, suspect_claim_size(crashes))
    )
    # Past the visibility timeout plus kombu's restore scan, a fan-out that has not run
    # was lost by the broker rather than delayed by it.
    grace = timedelta(seconds=rt.settings.visibility_timeout + RESTORE_SCAN_SECONDS)
    lost = resend_unplanned(rt.db, lambda event_id: fanout.apply_async(args=[event_id]), grace)
    if lost:
        log.warning(kv(msg="fan-out sent again", count=len(lost), event_ids=",".join(lost)))


@app.task(name=HEARTBEAT)
def heartbeat(queue: str) -> None:
    """Ran because a worker took it off ``queue``: record that, and whether it reaches the
    database (a worker with a wrong database URL consumes, and fails every fan-out)."""
    rt = runtime()
    try:
        rt.db.ping()
        database = "ok"
    except Exception as exc:
        database = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    mark_consuming(
        rt.redis,
        queue,
        database=database,
        worker=heartbeat.request.hostname or "",
        ttl=rt.settings.queue_proof_ttl,
        window=rt.settings.consumer_window,
    )
