"""Delivery rows: one per (event, channel, target), created once, whatever plans them.

Planning the same targets again finds the same rows (the key is unique), so a fan-out
repeated after a crash adds nothing. An operator's retry or resend makes rows due again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Insert, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from syndicator.ledger.chunks import CHUNK, chunked
from syndicator.store.models import Delivery, utcnow

__all__ = [
    "TARGET_REF",
    "InvalidTarget",
    "check_targets",
    "counts_by_status",
    "delivery_key",
    "ensure_deliveries",
    "ensure_due_now",
    "insert_targets",
    "pending_ids",
    "requeue",
    "requeue_manual",
]

# ``kind`` or ``kind:id``: an opaque reference, never an address or a name. Targets are
# part of a ledger key and of a log line, so personal data must not fit in one.
TARGET_REF = re.compile(r"[a-z]+(?::[A-Za-z0-9_.-]{1,64})?")

_DELIVERIES = cast(Table, Delivery.__table__)


class InvalidTarget(ValueError):
    """A channel planned something that is not a target reference."""


def delivery_key(event_id: str, channel: str, target: str) -> str:
    return f"{event_id}:{channel}:{target}"


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
    order: tuple[int, int] | None = None,
) -> None:
    """Create the rows that do not exist yet: one statement, for at most one chunk.
    ``order``: (release id, place) for a channel delivering in order (ledger/ordering.py)."""
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
                "release_id": order[0] if order else None,
                "release_order": order[1] if order else None,
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


def ensure_due_now(session: Session, event_id: str, channel: str, target: str) -> int:
    """One row, created once, due now unless it was already tried; returns its id.

    For an event syndicator raises itself with a single delivery (an operator notice, a
    welcome mail): no fan-out queues a task for it, and a fresh row waits for that task,
    so the row is made due instead and the sweeper takes it on its next pass."""
    (delivery_id,) = ensure_deliveries(session, event_id, channel, [target])
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.attempts == 0, Delivery.status == "pending")
        .values(next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return delivery_id


def requeue(session: Session, event_id: str, channel: str, target: str) -> int:
    """An operator's retry: the row is due now, whatever its state; the sweeper takes it."""
    (delivery_id,) = ensure_deliveries(session, event_id, channel, [target])
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            status="pending", next_attempt_at=None, claim_token=None, crashes=0, updated_at=utcnow()
        )
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
            crashes=0,  # an operator asks for one more try, poison or not
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def counts_by_status(session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Delivery.channel, Delivery.status, func.count()).group_by(
            Delivery.channel, Delivery.status
        )
    )
    return {(channel, status): count for channel, status, count in rows}
