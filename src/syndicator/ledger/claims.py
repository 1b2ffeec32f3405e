"""Claims on the delivery ledger: who is delivering which rows, and until when.

Work is claimed with a conditional UPDATE, so a task that Redis delivers twice
never repeats a delivery that already finished. Every claim has a token, and only the
holder of the token may record an outcome (:mod:`syndicator.ledger.attempts`), defer a
row or hand it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from syndicator.ledger.chunks import chunked, padded
from syndicator.ledger.ordering import not_held
from syndicator.ledger.poison import strike, suspect_claim_size, tolerated
from syndicator.store.models import ChannelPause, Delivery, utcnow

__all__ = [
    "CLAIM_LEASE",
    "TASK_SOFT_TIME_LIMIT_SECONDS",
    "TASK_TIME_LIMIT_SECONDS",
    "Claimed",
    "Deferral",
    "claim",
    "claim_due",
    "claim_pending",
    "defer",
    "due_for_retry",
    "has_due",
    "held_by",
    "new_token",
    "release",
    "reschedule_held",
    "still_held",
    "suspects_due",
]

_DELIVERIES = cast(Table, Delivery.__table__)

# Celery kills a task after this long (workers/app.py uses it) ...
TASK_TIME_LIMIT_SECONDS = 300
# ... and raises in it this long after it started, leaving time to clean up.
TASK_SOFT_TIME_LIMIT_SECONDS = TASK_TIME_LIMIT_SECONDS - 60
# ... so a claim older than this belongs to a worker that died mid-delivery. The backstop:
# a claim naming a worker process is released once that process stops heartbeating
# (ledger/claimers.py), long before this.
CLAIM_LEASE = timedelta(seconds=TASK_TIME_LIMIT_SECONDS + 30)


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    event_id: str
    channel: str
    target: str
    attempt: int
    token: str  # the claim's: only its holder may record, defer or release the row
    # scheduled | manual (an operator's replay: logged as such, never retried by itself)
    trigger: str = "scheduled"


@dataclass(frozen=True)
class Deferral:
    """Not now, and not a failure: back to pending until ``not_before``, no attempt spent."""

    delivery_id: int
    not_before: datetime
    reason: str = "-"  # a short code for the log: partner_cap, rate_limit, smtp_421


def _claimable(now: datetime) -> ColumnElement[bool]:
    # A paused channel's rows are never due: they wait as they are (pending, or a dead
    # worker's claim), and every claim and the sweeper pass them by until it resumes.
    return and_(
        Delivery.channel.not_in(select(ChannelPause.channel)),
        or_(
            and_(
                Delivery.status == "pending",
                or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
            ),
            and_(Delivery.status == "in_progress", Delivery.claimed_at < now - CLAIM_LEASE),
        ),
        # A row an earlier one of its partner and release holds back is not due either: it
        # waits, unspent, until that one is done (ledger/ordering.py).
        not_held(),
    )


def new_token() -> str:
    return uuid.uuid4().hex


def _take(
    session: Session,
    conditions: Iterable[ColumnElement[bool]],
    worker: str | None,
    token: str | None = None,
) -> list[Claimed]:
    """Claim the rows matching any of ``conditions`` (one statement each) under one token,
    in the name of ``worker`` (a registered worker process; see ledger/claimers.py).

    Every row already held under ``token`` is returned too: a claim whose commit failed
    without an answer (the server went away) is tried again under the same token, and
    gets the rows the first try took, if it took them, instead of leaving them held by
    a token nobody knows until the lease ends."""
    now = utcnow()
    token = token or new_token()
    for condition in conditions:
        session.execute(
            update(Delivery)
            .where(condition, _claimable(now))
            .values(
                status="in_progress",
                claim_token=token,
                claimed_at=now,
                claimed_by=worker,
                updated_at=now,
                attempts=Delivery.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.event_id,
            Delivery.channel,
            Delivery.target,
            Delivery.attempts,
            Delivery.trigger,
        )
        .where(Delivery.claim_token == token)
        .order_by(Delivery.id)
    )
    return [Claimed(*row[:5], token=token, trigger=row[5]) for row in rows]


def has_due(session: Session, channel: str) -> bool:
    query = select(Delivery.id).where(Delivery.channel == channel, _claimable(utcnow())).limit(1)
    return session.scalar(query) is not None


def claim(
    session: Session,
    delivery_ids: Sequence[int],
    worker: str | None = None,
    token: str | None = None,
) -> list[Claimed]:
    """Claim these rows if they are still due; finished or busy rows are skipped, and so
    is a suspect (a row held by a worker that went down) in a claim too large for its
    strikes (ledger/poison.py): the sweeper sends it in one small enough."""
    if not delivery_ids:
        return []
    allowed = tolerated(len(delivery_ids))
    chunks = (and_(Delivery.id.in_(padded(chunk)), allowed) for chunk in chunked(delivery_ids))
    return _take(session, chunks, worker, token)


def claim_pending(
    session: Session,
    channel: str,
    limit: int = 10_000,
    worker: str | None = None,
    token: str | None = None,
) -> list[Claimed]:
    """Claim every due row of a channel: how a coalescing channel takes a burst at once.
    Suspects (see ``claim``) go first, the most struck ones, in a claim their size."""
    due = and_(Delivery.channel == channel, _claimable(utcnow()))
    worst = session.scalar(select(func.max(Delivery.crashes)).where(due)) or 0
    if worst:
        size = min(limit, suspect_claim_size(worst))
        ids = select(Delivery.id).where(due, Delivery.crashes == worst)
        ids = ids.order_by(Delivery.id).limit(size)
        return _take(session, [_among(session, ids)], worker, token)
    ids = select(Delivery.id).where(due)
    return _take(session, [_among(session, ids.order_by(Delivery.id).limit(limit))], worker, token)


def _among(session: Session, ids: Select[Any]) -> ColumnElement[bool]:
    """``Delivery.id IN (ids)``, with ``ids`` (a LIMITed query) read exactly once. PostgreSQL
    may scan an IN subquery again for each row the UPDATE visits, and under SKIP LOCKED a
    second scan finds other rows: a claim of 90 once took 190. A materialized CTE is read
    once. (SQLite computes such a subquery once, and older versions know no MATERIALIZED.)"""
    if session.get_bind().dialect.name != "postgresql":
        return Delivery.id.in_(ids.scalar_subquery())
    due = ids.cte("due").prefix_with("MATERIALIZED")
    return Delivery.id.in_(select(due.c.id))


def claim_due(
    session: Session,
    channel: str,
    limit: int,
    worker: str | None = None,
    token: str | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due pending rows of a channel, roughly oldest first: how a
    running batch tops itself up. It reads the work index (channel, status, next attempt)
    and never sorts: a channel may have 100,000 rows pending. Rows of a dead worker's
    claim are left to the sweeper. On PostgreSQL, rows another claimer is taking are
    skipped, not waited for."""
    now = utcnow()
    ids = (
        select(Delivery.id)
        .where(
            Delivery.channel == channel,
            Delivery.status == "pending",
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
            Delivery.crashes == 0,  # a suspect goes in a claim its size (``claim``)
            not_held(),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _take(session, [_among(session, ids)], worker, token)


def still_held(session: Session, token: str, ids: Sequence[int]) -> set[int]:
    held: set[int] = set()
    for chunk in chunked(ids):
        query = select(Delivery.id).where(
            Delivery.claim_token == token, Delivery.id.in_(padded(chunk))
        )
        held.update(session.scalars(query.with_for_update()))
    return held


def held_by(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """The claim token each of these rows is held under now (rows held by none are left
    out), the rows locked until the transaction ends: one statement per chunk, whatever
    the claims."""
    held: dict[int, str] = {}
    for chunk in chunked(ids):
        query = select(Delivery.id, Delivery.claim_token).where(
            Delivery.id.in_(padded(chunk)), Delivery.claim_token.is_not(None)
        )
        rows = session.execute(query.with_for_update())
        held.update((row_id, token) for row_id, token in rows if token is not None)
    return held


def _hand_back(token: str, **values: Any) -> Update:
    """Back to pending with the claim's attempt refunded: it never reached the receiver."""
    table = _DELIVERIES
    return (
        update(table)
        .where(table.c.claim_token == token, table.c.status == "in_progress")
        .values(
            status="pending",
            attempts=table.c.attempts - 1,
            claim_token=None,
            updated_at=utcnow(),
            **values,
        )
    )


def defer(session: Session, token: str, deferrals: Sequence[Deferral]) -> list[Deferral]:
    """Rows a channel said "not now" to: pending again at ``not_before``, attempt refunded."""
    held = still_held(session, token, [d.delivery_id for d in deferrals]) if deferrals else set()
    applied = [d for d in deferrals if d.delivery_id in held]
    if applied:
        table = _DELIVERIES
        statement = _hand_back(
            token,
            next_attempt_at=bindparam("not_before", type_=table.c.next_attempt_at.type),
        ).where(table.c.id == bindparam("row_id"))
        session.execute(
            statement, [{"row_id": d.delivery_id, "not_before": d.not_before} for d in applied]
        )
    return applied


def release(session: Session, token: str, ids: Sequence[int]) -> None:
    """Rows the batch never reached: due again now, attempt refunded."""
    for chunk in chunked(ids):
        statement = _hand_back(token, next_attempt_at=None).where(
            _DELIVERIES.c.id.in_(padded(chunk))
        )
        session.execute(statement)


def reschedule_held(session: Session, token: str, at: datetime) -> int:
    """The rows a failed batch still holds, none of them in flight any more: pending again
    at ``at``, each struck once (ledger/poison.py). Their attempt counts: a message may
    have left before the failure. Returns how many."""
    rows = session.execute(
        select(Delivery.id, Delivery.crashes, Delivery.attempts, Delivery.claimed_at)
        .where(Delivery.claim_token == token, Delivery.status == "in_progress")
        .with_for_update()
    ).all()
    poisoned = strike(session, rows, "its batch failed while it was in flight", utcnow())
    table = _DELIVERIES
    for chunk in chunked([row.id for row in rows if row.id not in poisoned]):
        session.execute(
            update(table)
            .where(table.c.id.in_(padded(chunk)), table.c.claim_token == token)
            .values(
                status="pending",
                claim_token=None,
                next_attempt_at=at,
                crashes=table.c.crashes + 1,
                updated_at=utcnow(),
            )
        )
    return len(rows)


def due_for_retry(session: Session, limit: int = 1000) -> dict[str, list[int]]:
    """Rows whose time has come, grouped by channel, for the periodic sweeper."""
    now = utcnow()
    rows = session.execute(
        select(Delivery.channel, Delivery.id)
        .where(
            _claimable(now),
            # Fresh rows belong to the task that fan-out just queued; the sweeper is
            # for retries, deferrals (a due time, no attempt spent) and rows whose task
            # was lost.
            or_(
                Delivery.attempts > 0,
                Delivery.next_attempt_at.is_not(None),
                Delivery.created_at < now - timedelta(seconds=30),
            ),
            Delivery.crashes == 0,  # suspects go in claims their size: suspects_due
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    grouped: dict[str, list[int]] = {}
    for channel, delivery_id in rows:
        grouped.setdefault(channel, []).append(delivery_id)
    return grouped


def suspects_due(session: Session, limit: int = 1000) -> dict[tuple[str, int], list[int]]:
    """Due rows a lost worker held, by (channel, strikes): the sweeper sends them in claims
    of at most ``suspect_claim_size(strikes)`` rows (ledger/poison.py)."""
    rows = session.execute(
        select(Delivery.channel, Delivery.crashes, Delivery.id)
        .where(_claimable(utcnow()), Delivery.crashes > 0)
        .order_by(Delivery.id)
        .limit(limit)
    )
    grouped: dict[tuple[str, int], list[int]] = {}
    for channel, crashes, delivery_id in rows:
        grouped.setdefault((channel, crashes), []).append(delivery_id)
    return grouped
