"""The outbox: events committed but not yet handed to the broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from syndicator.store.db import Database
from syndicator.store.models import OutboxEntry, utcnow
from syndicator.tracing import resumed

__all__ = [
    "awaiting_fanout",
    "backlog",
    "mark_planned",
    "relay_again_unplanned",
    "relay_once",
    "resend_unplanned",
]


def backlog(db: Database) -> tuple[int, float | None]:
    """Rows waiting, and the age in seconds of the oldest: the alert operators want."""
    with db.read_session() as session:
        count, oldest = session.execute(
            select(func.count(), func.min(OutboxEntry.created_at)).where(
                OutboxEntry.relayed_at.is_(None)
            )
        ).one()
    age = (utcnow() - oldest).total_seconds() if oldest is not None else None
    return int(count), age


def awaiting_fanout(db: Database) -> int:
    """Events on the broker whose fan-out has not run: queued, in a worker, or lost."""
    with db.read_session() as session:
        count = session.scalar(
            select(func.count()).where(
                OutboxEntry.planned_at.is_(None), OutboxEntry.relayed_at.is_not(None)
            )
        )
    return int(count or 0)


def mark_planned(session: Session, event_id: str) -> None:
    """Called in the fan-out's own transaction, with the ledger rows it creates."""
    session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.event_id == event_id, OutboxEntry.planned_at.is_(None))
        .values(planned_at=utcnow())
    )


def relay_again_unplanned(session: Session) -> int:
    """Hand every event relayed but never fanned out back to the relay; returns how many.

    For a start of ``syndicator run``: the broker and every worker stopped with the last
    run, and a fan-out message may have gone with them (popped by a worker killed before
    it was registered as unacked, or queued in the second before a crash that the
    append-only file had not synced). Waiting for :func:`resend_unplanned` would take the
    visibility timeout; a duplicate fan-out finds the same ledger rows and sends nothing
    twice."""
    result = session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.planned_at.is_(None), OutboxEntry.relayed_at.is_not(None))
        .values(relayed_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def resend_unplanned(
    db: Database, send: Callable[[str], None], grace: timedelta, limit: int = 500
) -> list[str]:
    """Send again the events relayed more than ``grace`` ago whose fan-out never ran.

    ``grace`` must outlast the broker's own redelivery (the visibility timeout), so this
    only catches messages the broker lost. A duplicate fan-out finds the same ledger rows,
    so sending twice costs a query, never a second delivery. Each resend restarts the
    row's clock: at most one resend per event per ``grace``.
    """
    now = utcnow()
    with db.session() as session:
        event_ids = list(
            session.scalars(
                select(OutboxEntry.event_id)
                .where(OutboxEntry.planned_at.is_(None), OutboxEntry.relayed_at < now - grace)
                .order_by(OutboxEntry.relayed_at)
                .limit(limit)
            )
        )
    sent = []
    for event_id in event_ids:
        send(event_id)
        with db.session() as session:
            session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.event_id == event_id)
                .values(relayed_at=utcnow(), relay_attempts=OutboxEntry.relay_attempts + 1)
            )
        sent.append(event_id)
    return sent


def relay_once(
    db: Database,
    send: Callable[[str], None],
    limit: int = 500,
    allowed: Callable[[], bool] = lambda: True,
) -> int:
    """Hand waiting events to ``send`` in order; stop at the first broker error, or before
    a send once ``allowed()`` says no (this relay's lease ran out).

    Marking happens after sending, so a crash in between sends twice, and the
    ledger makes the second fan-out a no-op. Nothing here locks a row, on PostgreSQL or
    SQLite: two relays running at once would both send the rows they both read. Only
    one relay runs, the one whose lease ``allowed`` checks (workers/scheduler.py).
    """
    with db.read_session() as session:
        rows = session.execute(
            select(OutboxEntry.id, OutboxEntry.event_id, OutboxEntry.traceparent)
            .where(OutboxEntry.relayed_at.is_(None))
            .order_by(OutboxEntry.id)
            .limit(limit)
        ).all()
    sent = 0
    for row_id, event_id, traceparent in rows:
        if not allowed():
            break
        try:
            # In the hook's trace: the task sent now carries it on to the fan-out.
            with resumed(traceparent):
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
