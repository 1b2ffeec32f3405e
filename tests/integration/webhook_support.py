"""Partners, events and delivery runs for webhook tests (rows inserted directly)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from syndicator.channels.webhooks import WebhooksChannel
from syndicator.delivery.runner import Enqueue, load_event, plan_event, run_due
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, Partner, PartnerSecret, utcnow
from tests.factories import make_event
from tests.sealing import seal

__all__ = [
    "add_partner",
    "attempts",
    "deliveries",
    "make_due",
    "publish",
    "run_pending",
]


def add_partner(
    db: Database,
    url: str,
    secrets: Sequence[tuple[str, datetime | None]] = (),
    **fields: Any,
) -> int:
    values: dict[str, Any] = {
        "name": "연합뉴스",
        "url": url,
        "event_types": None,
        "headers": {},
        "departments": [],
        "categories": [],
    }
    values.update(fields)
    with db.session() as session:
        partner = Partner(**values)
        session.add(partner)
        session.flush()
        for secret, expires_at in secrets:
            session.add(
                PartnerSecret(partner_id=partner.id, secret=seal(secret), expires_at=expires_at)
            )
        return partner.id


def publish(
    db: Database,
    channel: WebhooksChannel,
    release_id: int = 1,
    type: str = "release.published",
    **release: Any,
) -> list[int]:
    """Store an event and plan it for the webhooks channel; the planned delivery ids."""
    with db.session() as session:
        result = store_event(
            session,
            CmsEvent.model_validate(make_event(release_id, type, **release)),
            webhook_id=f"msg_{release_id}_{type}",
            source="hook",
            enqueue=True,
        )
    event = load_event(db, result.event_id)
    assert event is not None
    planned: list[Enqueue] = []
    plan_event(db, {channel.name: channel}, event, planned.append)
    return [i for item in planned for i in item.delivery_ids]


def make_due(db: Database) -> None:
    """Pretend every scheduled retry's time has come."""
    with db.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def run_pending(db: Database, channel: WebhooksChannel) -> None:
    with db.session() as session:
        ids = list(session.scalars(select(Delivery.id).where(Delivery.status == "pending")))
    run_due(db, channel, ids)


def attempts(db: Database) -> list[DeliveryAttempt]:
    with db.session() as session:
        rows = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        session.expunge_all()
        return list(rows)


def deliveries(db: Database) -> list[Delivery]:
    with db.session() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        session.expunge_all()
        return list(rows)
