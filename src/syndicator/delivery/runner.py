"""Running deliveries: plan, claim, call the channel, record every attempt.

Failure handling lives here once; channels only classify their errors. Planning streams:
a channel's targets are written a chunk at a time, each chunk in its own short
transaction, and the rows are handed out a page at a time, so an event with 100,000
targets plans in bounded memory and never holds the database's write lock for long.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator.channels.base import (
    AsyncChannel,
    BatchContext,
    Channel,
    CoalescingChannel,
    Deadline,
    DeliveryOutcome,
    DeliveryReport,
    EventRecord,
    FollowUp,
    SyncChannel,
)
from syndicator.channels.registry import CHANNEL_TYPES
from syndicator.delivery import aio
from syndicator.delivery.recorder import Recorder, failure
from syndicator.delivery.settlements import Settlement, keep, settle_kept
from syndicator.delivery.unstarted import Unstarted
from syndicator.intake.outbox import mark_planned
from syndicator.ledger.chunks import chunked
from syndicator.ledger.claims import (
    TASK_SOFT_TIME_LIMIT_SECONDS,
    Claimed,
    claim,
    claim_due,
    claim_pending,
    new_token,
)
from syndicator.ledger.ordering import order_of
from syndicator.ledger.targets import TARGET_REF, ensure_deliveries, insert_targets, pending_ids
from syndicator.logs import kv
from syndicator.store.db import Database
from syndicator.store.models import Event, utcnow
from syndicator.store.outage import retrying

__all__ = [
    "BATCH_SECONDS",
    "Enqueue",
    "load_event",
    "plan_event",
    "planning_order",
    "run_claimed",
    "run_due",
]

log = logging.getLogger("syndicator.delivery.runner")

# A batch's deadline: rows not started by then go back to pending unspent, and the rest
# of the task's time (until the soft limit) is left for recording and handing back.
BATCH_SECONDS = TASK_SOFT_TIME_LIMIT_SECONDS - 30
# A failed batch keeps trying this long to record what it knows (a database restart takes
# seconds), within the time the hard limit leaves after the soft one.
SETTLE_RETRY_SECONDS = 30.0
# A claim is tried again this long while the database is away (a restart, a switchover),
# before the task gives up and the sweeper's next pass takes the rows.
CLAIM_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class Enqueue:
    """Work the caller must put on the channel's queue."""

    channel: str
    delivery_ids: tuple[int, ...]


def load_event(db: Database, event_id: str) -> EventRecord | None:
    with db.read_session() as session:
        row = session.scalar(select(Event).where(Event.id == event_id))
        if row is None:
            return None
        return EventRecord(row.id, row.type, row.release_id, row.source, row.payload)


def plan_event(
    db: Database,
    channels: dict[str, Channel],
    event: EventRecord,
    send: Callable[[Enqueue], object],
) -> dict[str, int]:
    """Create the ledger rows for every channel and ``send`` their pending ids, a page at
    a time; returns how many were sent per channel. Re-planning an event finds the same
    rows. The event is marked planned last: a fan-out that dies half-way runs again."""
    sent = {
        channel.name: _plan_channel(db, channel, event, send)
        for channel in planning_order(channels.values())
    }
    with db.session() as session:
        mark_planned(session, event.id)
    log.info(
        kv(
            msg="event planned",
            event_id=event.id,
            type=event.type,
            release_id=event.release_id,
            deliveries=",".join(f"{name}:{n}" for name, n in sent.items() if n) or "none",
        )
    )
    return sent


def planning_order(channels: Iterable[Channel]) -> list[Channel]:
    """Channels with few targets first (feeds, partners), in registry order, then those
    planning an audience: a partner's webhook is queued before a newsletter's first page,
    not after its last."""
    return sorted(channels, key=lambda channel: channel.audience)


def _plan_channel(
    db: Database, channel: Channel, event: EventRecord, send: Callable[[Enqueue], object]
) -> int:
    # ``plan`` runs between transactions, never inside one: a channel reading its
    # subscribers must not wait for its own caller's write lock.
    planned = 0
    order = None
    if channel.in_order:
        with db.read_session() as session:
            order = order_of(session, event.id)
    for targets in chunked(channel.plan(event)):
        with db.session() as session:
            insert_targets(session, event.id, channel.name, targets, channel.target_pattern, order)
        planned += len(targets)
    if not planned:  # WebSub's rows come from follow-ups, never from an event
        return 0
    sent, after = 0, 0
    while True:
        with db.read_session() as session:
            ids = pending_ids(session, event.id, channel.name, after)
        if not ids:
            return sent
        send(Enqueue(channel.name, tuple(ids)))
        sent, after = sent + len(ids), ids[-1]


def run_due(
    db: Database,
    channel: Channel,
    delivery_ids: Sequence[int] | None,
    batch: BatchContext | None = None,
    top_up: bool = False,
) -> list[Enqueue]:
    """Claim (given rows, or every due row of a coalescing channel) and deliver them.
    ``top_up``: an async channel's batch claims more due rows as its own finish (what a
    worker's task does; see :func:`syndicator.delivery.aio.deliver_concurrently`)."""
    batch = batch or BatchContext(Deadline.after(BATCH_SECONDS))
    worker, token = batch.worker, new_token()

    def take() -> list[Claimed]:
        with db.session() as session:
            if delivery_ids is None:
                return claim_pending(session, channel.name, worker=worker, token=token)
            return claim(session, delivery_ids, worker, token)

    # One token for every try: a retried claim gets the rows a lost commit took.
    jobs = retrying(take, CLAIM_RETRY_SECONDS, "claim")
    return run_claimed(db, channel, jobs, batch, top_up)


def run_claimed(
    db: Database,
    channel: Channel,
    jobs: Sequence[Claimed],
    batch: BatchContext | None = None,
    top_up: bool = False,
) -> list[Enqueue]:
    """Deliver rows this worker holds, recording outcomes as they arrive; returns the work
    to enqueue next (follow-ups, and rows the deadline left, when the batch made progress).

    Whatever stops the batch (the deadline, an exception, a signal), outcomes already
    received are recorded and rows never started go back to pending without spending an
    attempt. After an exception, the rows that were in flight are tried again shortly
    (their attempt counts). Rows of a worker that dies stay claimed until the sweeper
    finds it gone (ledger/claimers.py), or the claim lease ends.
    """
    if not jobs:
        return []
    batch = batch or BatchContext(Deadline.after(BATCH_SECONDS))
    settle_kept()  # a batch an outage left unsettled goes first
    recorder = Recorder(db, channel, batch.trigger)
    unstarted = Unstarted(jobs)  # a batch that tops itself up adds the rows it claims
    try:
        follow_ups = _drive(db, channel, jobs, batch, recorder, unstarted, top_up)
        unreached = Settlement(db, recorder, unstarted, failed=False).settle()
    except BaseException:
        _settle_failed(Settlement(db, recorder, unstarted, failed=True))
        raise
    if unreached:
        log.info(kv(msg="batch deadline", channel=channel.name, handed_back=len(unreached)))
    rest = [Enqueue(channel.name, tuple(unreached))] if unreached and recorder.recorded else []
    return follow_ups + rest


def _drive(
    db: Database,
    channel: Channel,
    jobs: Sequence[Claimed],
    batch: BatchContext,
    recorder: Recorder,
    unstarted: Unstarted,
    top_up: bool = False,
) -> list[Enqueue]:
    if isinstance(channel, AsyncChannel):
        more = _claimer(db, channel, batch) if top_up and channel.top_up else None
        aio.run(aio.deliver_concurrently(channel, jobs, batch, recorder, unstarted, more))
        return []
    if isinstance(channel, CoalescingChannel):
        return _deliver_coalesced(channel, jobs, batch, recorder, unstarted)
    if isinstance(channel, SyncChannel):
        _deliver_each(channel, jobs, batch, recorder, unstarted)
        return []
    raise TypeError(f"{type(channel).__name__} is not a SyncChannel, AsyncChannel or Coalescing")


def _claimer(db: Database, channel: Channel, batch: BatchContext) -> aio.ClaimMore:
    """Claims up to n more due rows of ``channel``; the batch adds them to its
    ``unstarted``, which the runner settles once the batch ends."""

    def claim_more(n: int) -> list[Claimed]:
        token = new_token()

        def take() -> list[Claimed]:
            with db.session() as session:
                return claim_due(session, channel.name, n, batch.worker, token)

        return retrying(take, CLAIM_RETRY_SECONDS, "claim")

    return claim_more


def _settle_failed(settlement: Settlement) -> None:
    """After an exception, when nothing of the batch runs any more: settle it, waiting a
    while for a database that went away (the usual cause). What cannot be written by then
    stays with this process, which settles it once the database answers again."""
    deadline = time.monotonic() + SETTLE_RETRY_SECONDS
    pause = 0.5
    while True:
        try:
            settlement.settle()
            return
        except Exception:
            if time.monotonic() + pause > deadline:
                log.exception(kv(msg="could not record an interrupted batch"))
                keep(settlement)
                return
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _deliver_each(
    channel: SyncChannel,
    jobs: Sequence[Claimed],
    batch: BatchContext,
    recorder: Recorder,
    unstarted: Unstarted,
) -> None:
    for job in jobs:
        if batch.deadline.passed():
            return
        unstarted.start(job.delivery_id)
        started, clock = utcnow(), time.perf_counter()
        try:
            outcome = channel.deliver(job, batch)
        except Exception as exc:  # a bug or outage in the channel is this row's failure
            log.exception(
                kv(msg="channel raised", channel=channel.name, delivery_id=job.delivery_id)
            )
            outcome = failure(job, exc)
        recorder.add(job, outcome, started, (time.perf_counter() - clock) * 1000)
        if recorder.due():
            recorder.flush()


def _deliver_coalesced(
    channel: CoalescingChannel,
    jobs: Sequence[Claimed],
    batch: BatchContext,
    recorder: Recorder,
    unstarted: Unstarted,
) -> list[Enqueue]:
    """One call covers every row, so every row shares its start, duration and fate."""
    for job in jobs:
        unstarted.start(job.delivery_id)
    started, clock = utcnow(), time.perf_counter()
    try:
        report = channel.deliver_batch(jobs, batch)
    except Exception as exc:  # nothing was delivered row by row: every row may retry
        log.exception(kv(msg="channel raised", channel=channel.name))
        report = DeliveryReport([failure(job, exc) for job in jobs])
    elapsed = (time.perf_counter() - clock) * 1000
    by_id = {o.delivery_id: o for o in report.outcomes}
    for job in jobs:
        outcome = by_id.get(job.delivery_id) or DeliveryOutcome(
            job.delivery_id,
            ok=False,
            error_class="E_NO_OUTCOME",
            detail="channel returned no outcome for this delivery",
        )
        recorder.add(job, outcome, started, elapsed)
    follow: list[Enqueue] = []

    def create_follow_ups(session: Session) -> None:
        # In the transaction that records the outcomes: a ping is never lost in between.
        follow.extend(_follow_up(session, item) for item in report.follow_ups)

    recorder.flush(also=create_follow_ups)
    return follow


def _follow_up(session: Session, item: FollowUp) -> Enqueue:
    ids = ensure_deliveries(
        session, item.event_id, item.channel, item.targets, _target_pattern(item.channel)
    )
    return Enqueue(item.channel, tuple(ids))


def _target_pattern(channel: str) -> re.Pattern[str]:
    return next((k.target_pattern for k in CHANNEL_TYPES if k.name == channel), TARGET_REF)
