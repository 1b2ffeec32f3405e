"""The partner delivery log: read it, and resend by hand (replay one, recover many).

A resend is asked for through the ledger, never through the broker: the row is made due
now with ``trigger = 'manual'`` in a committed transaction, and the sweeper enqueues it
within seconds. So an accepted resend survives a Redis outage, and whichever worker
claims the row logs the attempt as manual and never retries it by itself (the
recorder reads the trigger off the claimed row).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator.ledger.attempts import attempts_by_delivery
from syndicator.ledger.chunks import CHUNK
from syndicator.ledger.targets import requeue_manual
from syndicator.partners.registry import CHANNEL, PartnerNotFound, partner_target
from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, Event, Partner

__all__ = [
    "DEFAULT_PAGE",
    "LISTED_RESPONSE_CHARS",
    "MAX_PAGE",
    "STATUSES",
    "AttemptView",
    "DeliveryNotFound",
    "DeliveryPage",
    "DeliveryView",
    "DurationMs",
    "NotResendable",
    "get_delivery",
    "list_deliveries",
    "parse_cursor",
    "recover",
    "replay",
    "shown_ms",
]

# The ledger's own status words, the only ones ``status=`` accepts.
STATUSES = ("pending", "in_progress", "succeeded", "failed", "suppressed", "uncertain")
DEFAULT_PAGE = 50
MAX_PAGE = 200
# A page of 200 deliveries with 8 attempts each must stay small: listings cut each
# response at this many characters; one delivery's own page shows the whole excerpt.
LISTED_RESPONSE_CHARS = 1000


def shown_ms(value: float) -> float:
    """A duration as shown: a tenth of a millisecond, the clock's noise cut off."""
    return round(value, 1)


DurationMs = Annotated[
    float,
    AfterValidator(shown_ms),
    Field(description="How long the attempt took, in milliseconds, rounded to 0.1 ms."),
]


class DeliveryNotFound(LookupError):
    def __init__(self, delivery_id: int) -> None:
        super().__init__(f"no partner delivery {delivery_id}")


class NotResendable(ValueError):
    """A resend refused for a reason the operator can fix (a 409)."""


class AttemptView(BaseModel):
    id: int
    number: int = Field(description="1 for the first attempt; a resend continues the count.")
    trigger: str = Field(description="scheduled | manual (a replay or a recover)")
    started_at: datetime
    duration_ms: DurationMs
    outcome: str = Field(description="succeeded | retrying | failed | suppressed | uncertain")
    status_code: int | None = Field(description="HTTP status; 0 on a network error.")
    error_class: str | None = Field(
        description="dns | connect | timeout | tls | http | redirect | ssrf-refused | invalid-url"
    )
    url: str | None = Field(description="The endpoint the attempt went to.")
    response: str | None = Field(description="An excerpt of the answer, or the error.")
    detail: str | None
    next_attempt_at: datetime | None = Field(description="When the retry it scheduled is due.")
    message_id: str | None = Field(description="The webhook-id sent (stable across retries).")


class DeliveryView(BaseModel):
    id: int
    event_id: str
    event_type: str
    release_id: int | None = Field(description="null for a partner.test event.")
    partner_id: int | None
    status: str = Field(description=" | ".join(STATUSES))
    attempt_count: int
    next_trigger: str = Field(description="What the next attempt will be logged as.")
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None
    attempts: list[AttemptView] = Field(description="Oldest first.")


class DeliveryPage(BaseModel):
    items: list[DeliveryView] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: done.")


def parse_cursor(cursor: str | None) -> int | None:
    """Cursors are the last id of a page, as a string: opaque to clients."""
    if cursor is None or cursor == "":
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise ValueError("is not a cursor this API gave out (use next_cursor)")
    return int(cursor)


def _partner_id(target: str) -> int | None:
    kind, _, ref = target.partition(":")
    return int(ref) if kind == "partner" and ref.isdigit() else None


def _attempt(row: DeliveryAttempt, response_chars: int | None) -> AttemptView:
    response = row.response
    if response is not None and response_chars is not None:
        response = response[:response_chars]
    return AttemptView(
        id=row.id,
        number=row.number,
        trigger=row.trigger,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        outcome=row.outcome,
        status_code=row.status_code,
        error_class=row.error_class,
        url=row.endpoint,
        response=response,
        detail=row.detail,
        next_attempt_at=row.next_attempt_at,
        message_id=row.message_id,
    )


def _views(session: Session, rows: Sequence[Any], response_chars: int | None) -> list[DeliveryView]:
    attempts = attempts_by_delivery(session, [delivery.id for delivery, _, _ in rows])
    return [
        DeliveryView(
            id=delivery.id,
            event_id=delivery.event_id,
            event_type=event_type,
            release_id=release_id,
            partner_id=_partner_id(delivery.target),
            status=delivery.status,
            attempt_count=delivery.attempts,
            next_trigger=delivery.trigger,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
            next_attempt_at=delivery.next_attempt_at,
            last_error=delivery.last_error,
            attempts=[_attempt(a, response_chars) for a in attempts[delivery.id]],
        )
        for delivery, event_type, release_id in rows
    ]


def _deliveries() -> Any:
    return (
        select(Delivery, Event.type, Event.release_id)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.channel == CHANNEL)
    )


def list_deliveries(
    db: Database,
    partner_id: int | None = None,
    status: str | None = None,
    since: datetime | None = None,
    cursor: int | None = None,
    limit: int = DEFAULT_PAGE,
) -> DeliveryPage:
    """One page, newest first. With a partner, the page is one range of the index
    ix_deliveries_target (channel, target, id), however long that partner's history."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    query = _deliveries()
    if partner_id is not None:
        query = query.where(Delivery.target == partner_target(partner_id))
    if status is not None:
        query = query.where(Delivery.status == status)
    if since is not None:
        query = query.where(Delivery.created_at >= since)
    if cursor is not None:
        query = query.where(Delivery.id < cursor)
    limit = max(1, min(limit, MAX_PAGE))
    with db.session() as session:
        rows = list(session.execute(query.order_by(Delivery.id.desc()).limit(limit + 1)))
        items = _views(session, rows[:limit], LISTED_RESPONSE_CHARS)
    more = len(rows) > limit
    return DeliveryPage(items=items, next_cursor=str(items[-1].id) if more else None)


def get_delivery(db: Database, delivery_id: int) -> DeliveryView:
    with db.session() as session:
        rows = list(session.execute(_deliveries().where(Delivery.id == delivery_id)))
        if not rows:
            raise DeliveryNotFound(delivery_id)
        return _views(session, rows, None)[0]


def _resendable_partner(session: Session, partner_id: int | None) -> None:
    partner = session.get(Partner, partner_id) if partner_id is not None else None
    if partner is None or partner.state == "deleted":
        raise NotResendable(f"partner {partner_id} was deleted: nothing to resend to")
    if partner.state != "active":
        raise NotResendable(f"partner {partner_id} is disabled: enable it first")


def _make_due_manual(session: Session, ids: Sequence[int], *only_status: str) -> int:
    condition = [Delivery.id.in_(ids), Delivery.status != "in_progress"]
    if only_status:
        condition.append(Delivery.status.in_(only_status))
    return requeue_manual(session, *condition)


def replay(db: Database, delivery_id: int, who: str) -> DeliveryView:
    """Resend one delivery now, whatever its state (a succeeded one too: the partner
    lost it). Refused while a worker is sending it, or when its partner cannot receive.
    Audited in the same transaction."""
    with db.session() as session:
        row = session.scalar(
            select(Delivery)
            .where(Delivery.id == delivery_id, Delivery.channel == CHANNEL)
            .with_for_update()
        )
        if row is None:
            raise DeliveryNotFound(delivery_id)
        if row.status == "in_progress":
            raise NotResendable(
                f"delivery {delivery_id} is being sent right now; replay it once it is logged"
            )
        _resendable_partner(session, _partner_id(row.target))
        _make_due_manual(session, [delivery_id])
        write_audit(session, who, "replay", f"delivery:{delivery_id}", f"channel {CHANNEL}")
    return get_delivery(db, delivery_id)


def recover(db: Database, partner_id: int, since: datetime, who: str) -> int:
    """Resend every delivery to the partner that failed (its last attempt failed) at or
    after ``since``; returns how many. A chunk of rows per short transaction, each
    audited in it (one row saying none when nothing had failed)."""
    target = partner_target(partner_id)
    with db.session() as session:
        partner = session.get(Partner, partner_id)
        if partner is None or partner.state == "deleted":
            raise PartnerNotFound(partner_id)
        _resendable_partner(session, partner_id)
    total, after = 0, 0
    while True:
        with db.session() as session:
            ids = list(
                session.scalars(
                    select(Delivery.id)
                    .where(
                        Delivery.channel == CHANNEL,
                        Delivery.target == target,
                        Delivery.id > after,
                        Delivery.status == "failed",
                        Delivery.updated_at >= since,
                    )
                    .order_by(Delivery.id)
                    .limit(CHUNK)
                )
            )
            count = _make_due_manual(session, ids, "failed") if ids else 0
            if ids or not after:
                detail = f"{count} deliveries failed since {since.isoformat()}"
                write_audit(session, who, "recover", target, detail)
            if not ids:
                return total
            total += count
        after = ids[-1]
