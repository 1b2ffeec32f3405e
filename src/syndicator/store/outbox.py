"""The outbox: events committed but not yet handed to the broker."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, update

from syndicator.store.db import Database
from syndicator.store.models import OutboxEntry, utcnow

__all__ = ["backlog", "relay_once"]


def backlog(db: Database) -> tuple[int, float | None]:
    """Rows waiting, and the age in seconds of the oldest: the alert operators want."""
    with db.session() as session:
        count, oldest = session.execute(
            select(func.count(), func.min(OutboxEntry.created_at)).where(
                OutboxEntry.relayed_at.is_(None)
            )
        ).one()
    age = (utcnow() - oldest).total_seconds() if oldest is not None else None
    return int(count), age


def relay_once(db: Database, send: Callable[[str], None], limit: int = 500) -> int:
    """Hand waiting events to ``send`` in order; stop at the first broker error.

    Marking happens after sending, so a crash in between sends twice, and the
    ledger makes the second fan-out a no-op.
    """
    with db.session() as session:
        rows = session.execute(
            select(OutboxEntry.id, OutboxEntry.event_id)
            .where(OutboxEntry.relayed_at.is_(None))
            .order_by(OutboxEntry.id)
            .limit(limit)
        ).all()
    sent = 0
    for row_id, event_id in rows:
        try:
            send(event_id)
        except Exception as exc:
            with db.session() as session:
                session.execute(
                    update(OutboxEntry)
                    .where(OutboxEntry.id == row_id)
                    .values(
                        relay_attempts=OutboxEntry.relay_attempts + 1,
                        last_error=f"{type(exc).__name__}: {exc}"[:2000],
                    )
                )
            raise
        with db.session() as session:
            session.execute(
                update(OutboxEntry).where(OutboxEntry.id == row_id).values(relayed_at=utcnow())
            )
        sent += 1
    return sent
