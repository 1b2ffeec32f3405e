"""Subscribers inserted directly (the subscription API is tested on its own), and events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select

from syndicator.channels.base import EventRecord
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.store.db import Database
from syndicator.store.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    Subscriber,
    SubscriberTopic,
    utcnow,
)
from tests.factories import make_event

__all__ = ["add_subscriber", "add_subscribers", "attempts_of", "ledger", "publish"]


def add_subscriber(
    db: Database,
    email: str,
    *,
    mode: str = "immediate",
    status: str = "active",
    departments: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> int:
    with db.session() as session:
        subscriber = Subscriber(
            email=email,
            status=status,
            mode=mode,
            every_release=not (departments or categories),
            consent="import_consented",
            confirmed_at=utcnow() if status == "active" else None,
        )
        session.add(subscriber)
        session.flush()
        for kind, names in (("department", departments), ("category", categories)):
            for name in names:
                session.add(SubscriberTopic(subscriber_id=subscriber.id, kind=kind, name=name))
        return subscriber.id


def add_subscribers(db: Database, count: int, domain: str = "example.org") -> None:
    """Many active immediate subscribers of everything, in bulk."""
    now = utcnow()
    with db.session() as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": f"r{n}@{domain}",
                    "status": "active",
                    "mode": "immediate",
                    "every_release": True,
                    "consent": "import_consented",
                    "created_at": now,
                    "updated_at": now,
                    "confirmed_at": now,
                }
                for n in range(count)
            ],
        )


def publish(
    db: Database,
    release_id: int,
    *,
    source: str = "hook",
    type: str = "release.published",
    **fields: Any,
) -> EventRecord:
    significant = fields.pop("significant", None)
    document = make_event(release_id, type=type, **fields)
    if significant is not None:
        document["significant"] = significant
    with db.session() as session:
        result = store_event(
            session,
            CmsEvent.model_validate(document),
            webhook_id=f"msg_{release_id}_{type}_{fields.get('updated_at', '')}",
            source=source,
            enqueue=True,
        )
        row = session.get(Event, result.event_id)
        assert row is not None
        return EventRecord(row.id, row.type, row.release_id, row.source, row.payload)


def ledger(db: Database, event_id: str | None = None) -> dict[str, str]:
    """target -> status of the email rows."""
    with db.session() as session:
        query = select(Delivery.target, Delivery.status).where(Delivery.channel == "email")
        if event_id is not None:
            query = query.where(Delivery.event_id == event_id)
        return {target: status for target, status in session.execute(query)}


def attempts_of(db: Database, target: str) -> list[DeliveryAttempt]:
    with db.session() as session:
        rows = session.scalars(
            select(DeliveryAttempt)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.target == target, Delivery.channel == "email")
            .order_by(DeliveryAttempt.id)
        )
        found = list(rows)
        session.expunge_all()
        return found
