"""The delivery ledger: one row per (event, channel, target), one row per attempt.

Work is claimed with a conditional UPDATE, so a task that Redis delivers twice
never repeats a delivery that already finished.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from syndicator.store.models import Delivery, DeliveryAttempt, utcnow

__all__ = [
    "AttemptRecord",
    "Claimed",
    "claim",
    "claim_pending",
    "counts_by_status",
    "delivery_key",
    "due_for_retry",
    "ensure_deliveries",
    "has_due",
    "record_attempt",
    "requeue",
]

# Celery kills a task after this long (workers/app.py uses it) ...
TASK_TIME_LIMIT_SECONDS = 300
# ... so a claim older than this belongs to a worker that died mid-delivery.
CLAIM_LEASE = timedelta(seconds=TASK_TIME_LIMIT_SECONDS + 30)


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    event_id: str
    channel: str
    target: str
    attempt: int


@dataclass(frozen=True)
class AttemptRecord:
    delivery_id: int
    number: int  # the claim already counted it: Claimed.attempt
    outcome: str  # succeeded | retrying | failed
    started_at: datetime
    duration_ms: float
    error_class: str | None = None
    detail: str | None = None
    next_attempt_at: datetime | None = None
    trigger: str = "scheduled"


def delivery_key(event_id: str, channel: str, target: str) -> str:
    return f"{event_id}:{channel}:{target}"


def ensure_deliveries(
    session: Session, event_id: str, channel: str, targets: Sequence[str]
) -> list[int]:
    """Create the rows once; planning the same event again finds the same ids."""
    keys = {delivery_key(event_id, channel, t): t for t in targets}
    if not keys:
        return []
    existing = set(session.scalars(select(Delivery.key).where(Delivery.key.in_(keys))))
    missing = [
        {"key": k, "event_id": event_id, "channel": channel, "target": t, "status": "pending"}
        for k, t in keys.items()
        if k not in existing
    ]
    if missing:
        session.execute(insert(Delivery), missing)
    return list(session.scalars(select(Delivery.id).where(Delivery.key.in_(keys))))


def requeue(session: Session, event_id: str, channel: str, target: str) -> int:
    """An operator's retry: the row is due now, whatever its state; the sweeper takes it."""
    (delivery_id,) = ensure_deliveries(session, event_id, channel, [target])
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status="pending", next_attempt_at=None, claim_token=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return delivery_id


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            Delivery.status == "pending",
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
        ),
        and_(Delivery.status == "in_progress", Delivery.claimed_at < now - CLAIM_LEASE),
    )


def _take(session: Session, condition: object) -> list[Claimed]:
    now = utcnow()
    token = uuid.uuid4().hex
    session.execute(
        update(Delivery)
        .where(condition, _claimable(now))  # type: ignore[arg-type]
        .values(
            status="in_progress",
            claim_token=token,
            claimed_at=now,
            updated_at=now,
            attempts=Delivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(Delivery.id, Delivery.event_id, Delivery.channel, Delivery.target, Delivery.attempts)
        .where(Delivery.claim_token == token)
        .order_by(Delivery.id)
    )
    return [Claimed(*row) for row in rows]


def has_due(session: Session, channel: str) -> bool:
    query = select(Delivery.id).where(Delivery.channel == channel, _claimable(utcnow())).limit(1)
    return session.scalar(query) is not None


def claim(session: Session, delivery_ids: Sequence[int]) -> list[Claimed]:
    """Claim these rows if they are still due; finished or busy rows are skipped."""
    if not delivery_ids:
        return []
    return _take(session, Delivery.id.in_(delivery_ids))


def claim_pending(session: Session, channel: str, limit: int = 10_000) -> list[Claimed]:
    """Claim every due row of a channel: how a coalescing channel takes a burst at once."""
    ids = select(Delivery.id).where(Delivery.channel == channel, _claimable(utcnow()))
    ids = ids.order_by(Delivery.id).limit(limit)
    return _take(session, Delivery.id.in_(ids.scalar_subquery()))


def record_attempt(session: Session, record: AttemptRecord) -> None:
    """Log the attempt and move the row to its next state, only while we hold the claim."""
    session.add(
        DeliveryAttempt(
            delivery_id=record.delivery_id,
            number=record.number,
            trigger=record.trigger,
            started_at=record.started_at,
            duration_ms=record.duration_ms,
            outcome=record.outcome,
            error_class=record.error_class,
            detail=(record.detail or "")[:20_000] or None,
        )
    )
    status = {"succeeded": "succeeded", "failed": "failed", "retrying": "pending"}[record.outcome]
    session.execute(
        update(Delivery)
        .where(Delivery.id == record.delivery_id, Delivery.status == "in_progress")
        .values(
            status=status,
            updated_at=utcnow(),
            next_attempt_at=record.next_attempt_at,
            claim_token=None,
            last_error=record.detail if record.outcome != "succeeded" else None,
        )
        .execution_options(synchronize_session=False)
    )


def due_for_retry(session: Session, limit: int = 1000) -> dict[str, list[int]]:
    """Rows whose time has come, grouped by channel, for the periodic sweeper."""
    now = utcnow()
    rows = session.execute(
        select(Delivery.channel, Delivery.id)
        .where(
            _claimable(now),
            # Fresh rows belong to the task that fan-out just queued; the sweeper is
            # for retries and for rows whose task was lost.
            or_(Delivery.attempts > 0, Delivery.created_at < now - timedelta(seconds=30)),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    grouped: dict[str, list[int]] = {}
    for channel, delivery_id in rows:
        grouped.setdefault(channel, []).append(delivery_id)
    return grouped


def counts_by_status(session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Delivery.channel, Delivery.status, func.count()).group_by(
            Delivery.channel, Delivery.status
        )
    )
    return {(channel, status): count for channel, status, count in rows}
