"""In-order delivery per target and release, for channels that ask for it (webhooks).

A row of such a channel names its release and its event's place among that release's
events (``release_order``: when the event was received, a retraction after everything
else). A row is held, neither claimed nor swept, while an earlier row for the same
channel, target and release is pending (due, deferred or waiting for its retry) or in
progress. It spends no attempt while held and is never failed for it. Once the earlier row
succeeds or is given up (failed, suppressed, uncertain), the row is due again at once
(:func:`wake_successors`). Rows of other releases or targets are never held by it.

Each check is one seek in ``ix_deliveries_in_order``, which holds only rows still in play.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, exists, or_, select, text, tuple_, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from syndicator.ledger.chunks import chunked, padded
from syndicator.store.models import ORDER_HOLDERS, Delivery, Event, utcnow

__all__ = ["RETRACTION", "not_held", "order_of", "release_order", "wake_successors"]

RETRACTION = "release.retracted"
# Added to a retraction's place: it sorts after every other event of its release, even
# one received later. (Microseconds since 1970 stay far below it until the year 146,000.)
_LAST = 1 << 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_EARLIER = aliased(Delivery, name="earlier")
# Literal, not bound: the planner must see ix_deliveries_in_order's own predicate.
_EARLIER_HOLDS = text(
    ORDER_HOLDERS.replace("status", "earlier.status").replace("release_id", "earlier.release_id")
)
_DELIVERIES = cast(Table, Delivery.__table__)


def release_order(event_type: str, received_at: datetime) -> int:
    """An event's place among its release's events: later is larger, a retraction last."""
    if received_at.tzinfo is None:  # SQLite hands back naive UTC
        received_at = received_at.replace(tzinfo=UTC)
    micros = (received_at - _EPOCH) // timedelta(microseconds=1)
    return micros + (_LAST if event_type == RETRACTION else 0)


def order_of(session: Session, event_id: str) -> tuple[int, int] | None:
    """(release id, place) for an event's rows; None for an event about no release."""
    row = session.execute(
        select(Event.type, Event.release_id, Event.received_at).where(Event.id == event_id)
    ).first()
    if row is None or row.release_id is None:
        return None
    return row.release_id, release_order(row.type, row.received_at)


def not_held(row: type[Delivery] | Table = Delivery) -> ColumnElement[bool]:
    """True for a row no earlier row of its target and release holds back."""
    me = row.c if isinstance(row, Table) else row
    earlier = select(_EARLIER.id).where(
        _EARLIER.channel == me.channel,
        _EARLIER.target == me.target,
        _EARLIER.release_id == me.release_id,
        _EARLIER_HOLDS,
        or_(
            _EARLIER.release_order < me.release_order,
            and_(_EARLIER.release_order == me.release_order, _EARLIER.id < me.id),
        ),
    )
    return or_(me.release_id.is_(None), ~exists(earlier))


def wake_successors(session: Session, finished: Sequence[int]) -> int:
    """Rows that ``finished`` (now done, one way or another) held back: due now, so the
    sweeper or a running batch takes them without waiting for their first-try grace.
    Returns how many were woken."""
    woken = 0
    now = utcnow()
    for chunk in chunked(finished):
        keys = session.execute(
            select(Delivery.channel, Delivery.target, Delivery.release_id).where(
                Delivery.id.in_(padded(chunk)), Delivery.release_id.is_not(None)
            )
        ).all()
        if not keys:
            continue
        result = session.execute(
            update(_DELIVERIES)
            .where(
                tuple_(_DELIVERIES.c.channel, _DELIVERIES.c.target, _DELIVERIES.c.release_id).in_(
                    padded([tuple(key) for key in set(keys)])
                ),
                _DELIVERIES.c.status == "pending",
                _DELIVERIES.c.next_attempt_at.is_(None),
            )
            .values(next_attempt_at=now)
        )
        woken += int(getattr(result, "rowcount", 0) or 0)
    return woken
