"""The worker processes that claim deliveries: their heartbeats, and the release of the
claims of a process that is gone.

A claim names its worker process (``deliveries.claimed_by``). A process that stops
heartbeating for ``stale_after`` (or that its own host can tell is gone, or that exited
cleanly) holds nothing any more: its rows in progress go back to pending, due at once.
The claim's attempt stays spent: the row may have reached its receiver before the
process died (at-least-once), so the release is logged as a retrying attempt
(``E_WORKER_LOST``), and the next claim is the next attempt. The claim lease
(``ledger.CLAIM_LEASE``) stays the backstop for claims that name no worker, and for a
worker that heartbeats but never finishes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from syndicator.ledger.chunks import CHUNK
from syndicator.ledger.poison import strike
from syndicator.ledger.tallies import add_attempts
from syndicator.store.models import Delivery, DeliveryAttempt, WorkerProcess, utcnow

__all__ = [
    "PRUNE_AFTER",
    "STALE_AFTER",
    "WORKER_LOST",
    "Liveness",
    "Released",
    "beat",
    "mark_stopped",
    "prune",
    "read_liveness",
    "register",
    "release_lost_claims",
]

# A worker whose heartbeat is older than this is gone: the default of the setting
# (SYNDICATOR_WORKER_STALE_SECONDS), which every caller passes. Several heartbeats long, so
# one slow write never makes a live worker look dead.
STALE_AFTER = timedelta(seconds=20)
# Rows of workers gone this long, holding nothing, are deleted.
PRUNE_AFTER = timedelta(days=1)
# The error class of the attempt a lost worker spent.
WORKER_LOST = "E_WORKER_LOST"

_ATTEMPTS = cast(Table, DeliveryAttempt.__table__)
# Literal, not bound: the planner must see ix_deliveries_claimed_by's own predicate.
_IN_PROGRESS = text("deliveries.status = 'in_progress'")


def register(
    session: Session,
    worker_id: str,
    host: str,
    pid: int,
    process_key: str,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    session.add(
        WorkerProcess(
            id=worker_id,
            host=host[:255],
            pid=pid,
            process_key=process_key[:200],
            started_at=now,
            heartbeat_at=now,
        )
    )


def beat(session: Session, worker_id: str, now: datetime | None = None) -> bool:
    """Refresh the heartbeat; False if the row is gone (pruned) or the worker stopped."""
    result = session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == worker_id, WorkerProcess.stopped_at.is_(None))
        .values(heartbeat_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def mark_stopped(session: Session, worker_id: str, now: datetime | None = None) -> None:
    session.execute(
        update(WorkerProcess)
        .where(WorkerProcess.id == worker_id)
        .values(stopped_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


def _lost(now: datetime, stale_after: timedelta) -> ColumnElement[bool]:
    return or_(
        WorkerProcess.stopped_at.is_not(None), WorkerProcess.heartbeat_at < now - stale_after
    )


@dataclass(frozen=True)
class Released:
    """The claims of one lost worker, now pending again."""

    worker_id: str
    host: str
    pid: int
    reason: str  # heartbeat | gone | stopped
    channels: dict[str, int] = field(default_factory=dict)

    @property
    def deliveries(self) -> int:
        return sum(self.channels.values())


def _why(
    worker: WorkerProcess, now: datetime, stale_after: timedelta | None, gone: bool
) -> str | None:
    if worker.stopped_at is not None:
        return "stopped"
    if gone:
        return "gone"
    if stale_after is not None and worker.heartbeat_at < now - stale_after:
        return "heartbeat"
    return None


_DETAIL = {
    "heartbeat": "its worker process stopped heartbeating",
    "gone": "its worker process is no longer running",
    "stopped": "its worker process exited without finishing it",
}


def release_lost_claims(
    session: Session,
    now: datetime,
    stale_after: timedelta,
    is_gone: Callable[[WorkerProcess], bool] = lambda _: False,
    heartbeats: bool = True,
) -> list[Released]:
    """Release every claim held by a worker process that is gone: stopped, silent for
    ``stale_after`` (unless ``heartbeats`` is False: the caller was not heard from that
    long itself), or one that ``is_gone`` (this host's own check) says no longer runs.
    Returns what was released, per worker."""
    holders = select(Delivery.claimed_by).where(_IN_PROGRESS, Delivery.claimed_by.is_not(None))
    workers = session.scalars(
        select(WorkerProcess).where(WorkerProcess.id.in_(holders.distinct().scalar_subquery()))
    ).all()
    released = []
    for worker in workers:
        reason = _why(worker, now, stale_after if heartbeats else None, is_gone(worker))
        if reason is not None:
            channels = _release_worker(session, worker, reason, now)
            if channels:
                released.append(Released(worker.id, worker.host, worker.pid, reason, channels))
    return released


def _release_worker(
    session: Session, worker: WorkerProcess, reason: str, now: datetime
) -> dict[str, int]:
    detail = f"{_DETAIL[reason]} (host {worker.host}, pid {worker.pid}); due again"
    counts: Counter[str] = Counter()
    while True:
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.channel,
                Delivery.attempts,
                Delivery.claimed_at,
                Delivery.trigger,
                Delivery.crashes,
            )
            .where(Delivery.claimed_by == worker.id, _IN_PROGRESS)
            .order_by(Delivery.id)
            .limit(CHUNK)
            # A row locked now is being recorded by its holder, which is alive after all.
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return dict(counts)
        # A row in flight each time its worker died, for the last time: poison, failed.
        poisoned = strike(session, rows, _DETAIL[reason], now)
        retried = [row for row in rows if row.id not in poisoned]
        if retried:
            _back_to_pending(session, worker.id, [row.id for row in retried], detail, now)
            session.execute(
                insert(_ATTEMPTS),
                [
                    {
                        "delivery_id": row.id,
                        "number": row.attempts,
                        "trigger": row.trigger,
                        "started_at": row.claimed_at or now,
                        "duration_ms": _ms(now - (row.claimed_at or now)),
                        "outcome": "retrying",
                        "error_class": WORKER_LOST,
                        "detail": detail,
                        "next_attempt_at": now,
                    }
                    for row in retried
                ],
            )
        by_channel: dict[str, list[tuple[str, float]]] = {}
        for row in rows:
            outcome = "failed" if row.id in poisoned else "retrying"
            by_channel.setdefault(row.channel, []).append(
                (outcome, _ms(now - (row.claimed_at or now)))
            )
            counts[row.channel] += 1
        for channel, attempts in sorted(by_channel.items()):
            add_attempts(session, channel, attempts)


def _back_to_pending(
    session: Session, worker_id: str, ids: Sequence[int], detail: str, now: datetime
) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.claimed_by == worker_id, _IN_PROGRESS)
        .values(
            status="pending",
            claim_token=None,
            next_attempt_at=None,
            last_error=detail,
            crashes=Delivery.crashes + 1,  # delivered alone from now on
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _ms(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds() * 1000)


def prune(session: Session, now: datetime, after: timedelta = PRUNE_AFTER) -> int:
    """Forget workers gone for ``after`` that hold no claim; returns how many."""
    holders = select(Delivery.claimed_by).where(_IN_PROGRESS, Delivery.claimed_by.is_not(None))
    result = session.execute(
        delete(WorkerProcess)
        .where(WorkerProcess.heartbeat_at < now - after, WorkerProcess.id.not_in(holders))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Liveness:
    live_workers: int  # registered, not stopped, heartbeat fresh
    lost_claims: int  # rows in progress whose worker is gone (released at the next sweep)


def read_liveness(session: Session, now: datetime, stale_after: timedelta) -> Liveness:
    """``stale_after``: the setting (SYNDICATOR_WORKER_STALE_SECONDS), as the sweeper uses."""
    live = session.scalar(
        select(func.count()).where(
            WorkerProcess.stopped_at.is_(None), WorkerProcess.heartbeat_at >= now - stale_after
        )
    )
    lost_workers = select(WorkerProcess.id).where(_lost(now, stale_after))
    lost = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(_IN_PROGRESS, Delivery.claimed_by.in_(lost_workers.scalar_subquery()))
    )
    return Liveness(int(live or 0), int(lost or 0))
