"""Recording attempts: one row per try, and the delivery moved to its next state.

Only the holder of a claim's token may record an outcome; recording the same records twice
(a flush retried after its commit) changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from syndicator.ledger.chunks import chunked, padded
from syndicator.ledger.claims import held_by
from syndicator.ledger.ordering import wake_successors
from syndicator.store.models import Delivery, DeliveryAttempt, utcnow

__all__ = [
    "RESPONSE_EXCERPT_CHARS",
    "AttemptRecord",
    "attempts_by_delivery",
    "record_attempts",
    "record_claims",
]

# Core statements on the table: bulk writes with per-row parameters, no ORM bookkeeping.
_DELIVERIES = cast(Table, Delivery.__table__)

_ATTEMPTS = cast(Table, DeliveryAttempt.__table__)


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


# The ledger's status words, after an attempt. ``suppressed`` and ``uncertain`` are
# terminal like ``failed``: an operator may requeue them, nothing else does.
_STATUS_AFTER = {
    "succeeded": "succeeded",
    "failed": "failed",
    "retrying": "pending",
    "suppressed": "suppressed",
    "uncertain": "uncertain",
}

# Attempt logs keep at most this much of a receiver's answer.
RESPONSE_EXCERPT_CHARS = 20_000


def record_attempts(
    session: Session, token: str, records: Sequence[AttemptRecord]
) -> list[AttemptRecord]:
    """Log the attempts and move the rows to their next state, only for rows this claim
    still holds; returns the records applied. Recording the same records twice (a flush
    retried after its commit) changes nothing the second time."""
    return record_claims(session, {token: records})


def record_claims(
    session: Session, claims: Mapping[str, Sequence[AttemptRecord]]
) -> list[AttemptRecord]:
    """:func:`record_attempts` for the records of several claims (claim token ->
    records) at once: which rows each claim still holds is read in one statement per
    chunk, and the attempts of all of them are logged in one."""
    tokens = held_by(session, [r.delivery_id for records in claims.values() for r in records])
    applied: list[AttemptRecord] = []
    for token, records in claims.items():
        mine = [r for r in records if tokens.get(r.delivery_id) == token]
        if mine:
            _finish(session, token, mine)
            applied += mine
    if applied:
        # A row done for good lets the rows it held back go (ledger/ordering.py).
        wake_successors(session, [r.delivery_id for r in applied if r.outcome != "retrying"])
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
    # An outcome means the row brought nobody down (ledger/poison.py).
    done = {"claim_token": None, "trigger": "scheduled", "crashes": 0, "updated_at": now}
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
                .where(table.c.id.in_(padded(chunk)), table.c.claim_token == token)
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


def attempts_by_delivery(
    session: Session, delivery_ids: Sequence[int]
) -> dict[int, list[DeliveryAttempt]]:
    """Each delivery's attempts, oldest first, for the logs operators read; every id is a
    key, with no attempts as an empty list."""
    found: dict[int, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
    if found:
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(list(found)))
            .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number, DeliveryAttempt.id)
        )
        for attempt in session.scalars(query):
            found[attempt.delivery_id].append(attempt)
    return found


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
