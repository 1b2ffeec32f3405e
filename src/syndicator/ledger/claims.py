"""The delivery ledger: one row per (event, channel, target), one row per attempt.

Work is claimed with a conditional UPDATE, so a task that Redis delivers twice
never repeats a delivery that already finished. Every claim has a token, and only the
holder of the token may record an outcome, defer a row or hand it back.

No statement binds more than one chunk of rows: an event may have 100,000 targets, more
than SQLite (32,766) or PostgreSQL (65,535) accept as parameters of one statement.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from syndicator.store.models import ChannelPause, Delivery, DeliveryAttempt, utcnow

__all__ = [
    "CHUNK",
    "CLAIM_LEASE",
    "RESPONSE_EXCERPT_CHARS",
    "TARGET_REF",
    "TASK_SOFT_TIME_LIMIT_SECONDS",
    "TASK_TIME_LIMIT_SECONDS",
    "AttemptRecord",
    "Claimed",
    "Deferral",
    "InvalidTarget",
    "check_targets",
    "chunked",
    "claim",
    "claim_due",
    "claim_pending",
    "counts_by_status",
    "defer",
    "delivery_key",
    "due_for_retry",
    "ensure_deliveries",
    "has_due",
    "insert_targets",
    "pending_ids",
    "record_attempts",
    "release",
    "requeue",
    "requeue_manual",
    "reschedule_held",
]

# Rows per statement and per short transaction when planning or releasing in bulk.
CHUNK = 1000
# ``kind`` or ``kind:id``: an opaque reference, never an address or a name. Targets are
# part of a ledger key and of a log line, so personal data must not fit in one.
TARGET_REF = re.compile(r"[a-z]+(?::[A-Za-z0-9_.-]{1,64})?")

T = TypeVar("T")

# Core statements on the table: bulk writes with per-row parameters, no ORM bookkeeping.
_DELIVERIES = cast(Table, Delivery.__table__)
_ATTEMPTS = cast(Table, DeliveryAttempt.__table__)

# Celery kills a task after this long (workers/app.py uses it) ...
TASK_TIME_LIMIT_SECONDS = 300
# ... and raises in it this long after it started, leaving time to clean up.
TASK_SOFT_TIME_LIMIT_SECONDS = TASK_TIME_LIMIT_SECONDS - 60
# ... so a claim older than this belongs to a worker that died mid-delivery. The backstop:
# a claim naming a worker process is released once that process stops heartbeating
# (ledger/claimers.py), long before this.
CLAIM_LEASE = timedelta(seconds=TASK_TIME_LIMIT_SECONDS + 30)


class InvalidTarget(ValueError):
    """A channel planned something that is not a target reference."""


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
class AttemptRecord:
    delivery_id: int
    number: int  # the claim already counted it: Claimed.attempt
    outcome: str  # succeeded | retrying | failed | suppressed | uncertain
    started_at: datetime
    duration_ms: float
    error_class: str | None = None
    detail: str | None = None
    next_attempt_at: datetime | None = None
    trigger: str = "scheduled"
    status_code: int | None = None
    response: str | None = None
    endpoint: str | None = None
    message_id: str | None = None


@dataclass(frozen=True)
class Deferral:
    """Not now, and not a failure: back to pending until ``not_before``, no attempt spent."""

    delivery_id: int
    not_before: datetime
    reason: str = "-"  # a short code for the log: partner_cap, rate_limit, smtp_421


def delivery_key(event_id: str, channel: str, target: str) -> str:
    return f"{event_id}:{channel}:{target}"


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def check_targets(channel: str, targets: Sequence[str], pattern: re.Pattern[str]) -> None:
    for n, target in enumerate(targets):
        if not pattern.fullmatch(target):
            # The value itself is left out: it may be the very personal data refused here.
            raise InvalidTarget(
                f"channel {channel!r} planned target #{n} ({len(target)} characters), which "
                f"is not a reference matching {pattern.pattern!r} such as 'subscriber:1234'. "
                "Targets become ledger keys and log lines: refer to the row that holds an "
                "address, never the address itself."
            )


def _insert_ignoring_duplicates(session: Session) -> Insert:
    table = _DELIVERIES
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["key"])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"])


def insert_targets(
    session: Session,
    event_id: str,
    channel: str,
    targets: Sequence[str],
    pattern: re.Pattern[str] = TARGET_REF,
) -> None:
    """Create the rows that do not exist yet: one statement, for at most one chunk."""
    if len(targets) > CHUNK:
        raise ValueError(f"at most {CHUNK} targets per statement, got {len(targets)}")
    check_targets(channel, targets, pattern)
    if targets:
        now = utcnow()
        rows = [
            {
                "key": delivery_key(event_id, channel, t),
                "event_id": event_id,
                "channel": channel,
                "target": t,
                "created_at": now,
                "updated_at": now,
            }
            for t in targets
        ]
        session.execute(_insert_ignoring_duplicates(session), rows)


def pending_ids(
    session: Session, event_id: str, channel: str, after: int = 0, limit: int = CHUNK
) -> list[int]:
    """One keyset page of an event's pending rows for a channel, in id order."""
    query = (
        select(Delivery.id)
        .where(
            Delivery.event_id == event_id,
            Delivery.channel == channel,
            Delivery.status == "pending",
            Delivery.id > after,
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def ensure_deliveries(
    session: Session,
    event_id: str,
    channel: str,
    targets: Sequence[str],
    pattern: re.Pattern[str] = TARGET_REF,
) -> list[int]:
    """Create a few rows once (follow-ups, an operator's retry) and return their ids;
    planning the same targets again finds the same ids."""
    ids: list[int] = []
    for chunk in chunked(list(dict.fromkeys(targets))):
        insert_targets(session, event_id, channel, chunk, pattern)
        keys = [delivery_key(event_id, channel, t) for t in chunk]
        ids += session.scalars(select(Delivery.id).where(Delivery.key.in_(keys)))
    return ids


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


def requeue_manual(session: Session, *conditions: ColumnElement[bool]) -> int:
    """An operator's resend: the rows matching ``conditions`` are due now, and their next
    attempt is logged as manual (tried once, never retried by itself). Returns how many."""
    result = session.execute(
        update(Delivery)
        .where(*conditions)
        .values(
            status="pending",
            next_attempt_at=None,
            claim_token=None,
            trigger="manual",
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


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
    )


def _take(
    session: Session, conditions: Iterable[ColumnElement[bool]], worker: str | None
) -> list[Claimed]:
    """Claim the rows matching any of ``conditions`` (one statement each) under one token,
    in the name of ``worker`` (a registered worker process; see ledger/claimers.py)."""
    now = utcnow()
    token = uuid.uuid4().hex
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
    session: Session, delivery_ids: Sequence[int], worker: str | None = None
) -> list[Claimed]:
    """Claim these rows if they are still due; finished or busy rows are skipped."""
    if not delivery_ids:
        return []
    chunks = (Delivery.id.in_(chunk) for chunk in chunked(delivery_ids))
    return _take(session, chunks, worker)


def claim_pending(
    session: Session, channel: str, limit: int = 10_000, worker: str | None = None
) -> list[Claimed]:
    """Claim every due row of a channel: how a coalescing channel takes a burst at once."""
    ids = select(Delivery.id).where(Delivery.channel == channel, _claimable(utcnow()))
    return _take(session, [_among(session, ids.order_by(Delivery.id).limit(limit))], worker)


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
    session: Session, channel: str, limit: int, worker: str | None = None
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
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _take(session, [_among(session, ids)], worker)


def _held(session: Session, token: str, ids: Sequence[int]) -> set[int]:
    held: set[int] = set()
    for chunk in chunked(ids):
        query = select(Delivery.id).where(Delivery.claim_token == token, Delivery.id.in_(chunk))
        held.update(session.scalars(query.with_for_update()))
    return held


# The ledger's status words, after an attempt. ``suppressed`` and ``uncertain`` are
# terminal like ``failed``: an operator may requeue them, nothing else does.
_STATUS_AFTER = {
    "succeeded": "succeeded",
    "failed": "failed",
    "retrying": "pending",
    "suppressed": "suppressed",
    "uncertain": "uncertain",
}
# Attempt logs keep at most this much of a receiver's answer (Svix keeps 20,000 bytes).
RESPONSE_EXCERPT_CHARS = 20_000


def record_attempts(
    session: Session, token: str, records: Sequence[AttemptRecord]
) -> list[AttemptRecord]:
    """Log the attempts and move the rows to their next state, only for rows this claim
    still holds; returns the records applied. Recording the same records twice (a flush
    retried after its commit) changes nothing the second time."""
    held = _held(session, token, [r.delivery_id for r in records]) if records else set()
    applied = [r for r in records if r.delivery_id in held]
    if not applied:
        return []
    _finish(session, token, applied)
    session.execute(insert(_ATTEMPTS), [_attempt_row(r) for r in applied])
    return applied


def _finish(session: Session, token: str, records: Sequence[AttemptRecord]) -> None:
    """Move the rows to their state after the attempt. Rows that end alike (the usual
    case: all succeeded) move in one statement per chunk; the rest one by one."""
    table = _DELIVERIES
    alike: dict[tuple[str, datetime | None, str | None], list[int]] = {}
    for r in records:
        state = (_STATUS_AFTER[r.outcome], r.next_attempt_at, _last_error(r))
        alike.setdefault(state, []).append(r.delivery_id)
    now = utcnow()
    # A manual attempt is now logged: whatever comes next is scheduled again.
    done = {"claim_token": None, "trigger": "scheduled", "updated_at": now}
    singles: list[dict[str, Any]] = []
    for (status, retry_at, error), ids in alike.items():
        if len(ids) == 1:
            singles.append(
                {"row_id": ids[0], "new_status": status, "retry_at": retry_at, "error": error}
            )
            continue
        for chunk in chunked(ids):
            session.execute(
                update(table)
                .where(table.c.id.in_(chunk), table.c.claim_token == token)
                .values(status=status, next_attempt_at=retry_at, last_error=error, **done)
            )
    if singles:
        each = (
            update(table)
            .where(table.c.id == bindparam("row_id"), table.c.claim_token == token)
            .values(
                status=bindparam("new_status"),
                next_attempt_at=bindparam("retry_at", type_=table.c.next_attempt_at.type),
                last_error=bindparam("error"),
                **done,
            )
        )
        session.execute(each, singles)


def _last_error(record: AttemptRecord) -> str | None:
    return record.detail if record.outcome != "succeeded" else None


def _attempt_row(record: AttemptRecord) -> dict[str, Any]:
    return {
        "delivery_id": record.delivery_id,
        "number": record.number,
        "trigger": record.trigger,
        "started_at": record.started_at,
        "duration_ms": record.duration_ms,
        "outcome": record.outcome,
        "error_class": record.error_class,
        "detail": (record.detail or "")[:RESPONSE_EXCERPT_CHARS] or None,
        "next_attempt_at": record.next_attempt_at,
        "status_code": record.status_code,
        "response": (record.response or "")[:RESPONSE_EXCERPT_CHARS] or None,
        "endpoint": record.endpoint,
        "message_id": record.message_id,
    }


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
    held = _held(session, token, [d.delivery_id for d in deferrals]) if deferrals else set()
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
        statement = _hand_back(token, next_attempt_at=None).where(_DELIVERIES.c.id.in_(chunk))
        session.execute(statement)


def reschedule_held(session: Session, token: str, at: datetime) -> int:
    """The rows a failed batch still holds, none of them in flight any more: pending again
    at ``at``. Their attempt counts: a message may have left before the failure. Returns
    how many."""
    table = _DELIVERIES
    result = session.execute(
        update(table)
        .where(table.c.claim_token == token, table.c.status == "in_progress")
        .values(status="pending", claim_token=None, next_attempt_at=at, updated_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


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
