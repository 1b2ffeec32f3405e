"""Attempt-log retention: old attempt rows go, a small batch per transaction.

One huge ``DELETE`` holds locks (and on SQLite the whole database) for as long as it
runs, stalling every delivery meanwhile (docs/webhooks.md, attempt retention).
Here each statement deletes at most ``BATCH`` rows by id and commits, so deliveries
interleave between batches, and a run stops after ``max_batches`` (the next run goes on).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from syndicator.store.db import Database
from syndicator.store.models import DeliveryAttempt

__all__ = ["BATCH", "MAX_BATCHES", "delete_attempts_before"]

BATCH = 1000
# 500,000 rows per run at most; a backlog larger than that shrinks run by run.
MAX_BATCHES = 500


def delete_attempts_before(
    db: Database, cutoff: datetime, batch: int = BATCH, max_batches: int = MAX_BATCHES
) -> int:
    """Delete attempts that started before ``cutoff``; returns how many went."""
    deleted, after = 0, 0
    for _ in range(max_batches):
        with db.session() as session:
            # Attempts are inserted in time order, so the old ones are the lowest ids: the
            # primary key's order finds them without an index on started_at.
            ids = list(
                session.scalars(
                    select(DeliveryAttempt.id)
                    .where(DeliveryAttempt.id > after, DeliveryAttempt.started_at < cutoff)
                    .order_by(DeliveryAttempt.id)
                    .limit(batch)
                )
            )
            if ids:
                session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < batch:
            break
        after = ids[-1]
    return deleted
