"""Ledger rows for the ledger's unit tests: one stored event and its deliveries."""

from __future__ import annotations

import uuid

from syndicator.ledger.targets import ensure_deliveries
from syndicator.store.db import Database
from syndicator.store.models import Event, utcnow


def delivery_rows(db: Database, count: int, channel: str = "webhooks") -> list[int]:
    """``count`` new rows (``partner:0`` …) of ``channel``, for one new event."""
    event_id = f"evt-{uuid.uuid4().hex}"
    with db.session() as session:
        session.add(
            Event(
                id=event_id,
                webhook_id=event_id,
                type="release.published",
                release_id=1,
                source="hook",
                outcome="applied",
                payload={},
                received_at=utcnow(),
            )
        )
        session.flush()
        return ensure_deliveries(session, event_id, channel, [f"partner:{n}" for n in range(count)])
