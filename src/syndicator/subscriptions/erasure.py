"""Erasing a subscriber: every personal field emptied, the row and its ledger refs kept.

The ledger only ever knew ``subscriber:<id>``, but a receiving server's reply may quote
the address ("550 5.1.1 <someone@example.org>: no such user"), so the email attempts'
replies and errors go too.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from syndicator.store.audit import write_audit
from syndicator.store.models import (
    Delivery,
    DeliveryAttempt,
    Subscriber,
    SubscriberTopic,
    SubscriptionRequest,
    utcnow,
)

__all__ = ["SUBSCRIBER_CHANNELS", "erase", "subscriber_ref"]

# Channels whose targets are subscribers.
SUBSCRIBER_CHANNELS = ("email",)


def subscriber_ref(subscriber_id: int) -> str:
    return f"subscriber:{subscriber_id}"


def erase(session: Session, subscriber_id: int, who: str) -> bool:
    """False when no such subscriber; erasing twice is harmless. Audited in the caller's
    transaction."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return False
    write_audit(session, who, "erase", subscriber_ref(subscriber_id))
    now = utcnow()
    subscriber.email = None
    subscriber.status = "erased"
    subscriber.suppressed_reason = subscriber.suppressed_kind = None
    subscriber.suppressed_at = None
    subscriber.every_release = True
    subscriber.links_version += 1  # no link mailed to them works any more
    subscriber.updated_at = now
    session.execute(delete(SubscriberTopic).where(SubscriberTopic.subscriber_id == subscriber_id))
    session.execute(
        delete(SubscriptionRequest).where(SubscriptionRequest.subscriber_id == subscriber_id)
    )
    theirs = select(Delivery.id).where(
        Delivery.channel.in_(SUBSCRIBER_CHANNELS), Delivery.target == subscriber_ref(subscriber_id)
    )
    session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(theirs.scalar_subquery()))
        .values(response=None, detail=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(theirs.scalar_subquery()))
        .values(last_error=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return True
