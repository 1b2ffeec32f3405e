"""Attempt retention deletes exactly the attempts older than the cutoff, in small batches,
and a run capped by ``max_batches`` leaves the rest to the next run."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select

from syndicator.ledger.retention import delete_attempts_before
from syndicator.store.db import Database
from syndicator.store.models import DeliveryAttempt, utcnow
from tests.unit.ledger.support import delivery_rows


def _attempts(db: Database, ages_in_days: list[int]) -> None:
    (delivery_id,) = delivery_rows(db, 1)
    now = utcnow()
    with db.session() as session:
        session.execute(
            insert(DeliveryAttempt),
            [
                {
                    "delivery_id": delivery_id,
                    "number": n + 1,
                    "started_at": now - timedelta(days=age),
                    "duration_ms": 1.0,
                    "outcome": "retrying",
                }
                for n, age in enumerate(ages_in_days)
            ],
        )


def _left(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(DeliveryAttempt)) or 0)


def test_only_attempts_before_the_cutoff_go(db: Database) -> None:
    _attempts(db, [40, 35, 31, 29, 1])
    cutoff = utcnow() - timedelta(days=30)
    assert delete_attempts_before(db, cutoff, batch=2) == 3
    assert _left(db) == 2
    assert delete_attempts_before(db, cutoff, batch=2) == 0


def test_a_capped_run_leaves_the_rest_to_the_next(db: Database) -> None:
    _attempts(db, [40] * 7)
    cutoff = utcnow() - timedelta(days=30)
    assert delete_attempts_before(db, cutoff, batch=2, max_batches=2) == 4
    assert _left(db) == 3
    assert delete_attempts_before(db, cutoff, batch=2, max_batches=2) == 3
    assert _left(db) == 0
