"""Attempt-log retention deletes in small batches, each in its own transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, insert, select

from syndicator.ledger.retention import delete_attempts_before
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, Event, utcnow


def seed(db: Database, old: int, new: int) -> None:
    now = utcnow()
    with db.session() as session:
        session.add(
            Event(
                id="evt_1",
                webhook_id="msg_1",
                type="release.published",
                release_id=1,
                source="hook",
                outcome="applied",
                payload={},
            )
        )
        session.flush()  # no ORM relationship orders the two inserts
        session.add(Delivery(key="k", event_id="evt_1", channel="webhooks", target="partner:1"))
        session.flush()
        delivery_id = session.scalar(select(Delivery.id))
        rows = [
            {
                "delivery_id": delivery_id,
                "number": n,
                "trigger": "scheduled",
                # Old ones first, as the log grows.
                "started_at": now - timedelta(days=40) if n < old else now,
                "duration_ms": 1.0,
                "outcome": "failed",
            }
            for n in range(old + new)
        ]
        for start in range(0, len(rows), 500):
            session.execute(insert(DeliveryAttempt), rows[start : start + 500])


@contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, int]]]:
    """Every DELETE with the number of ids it binds, and every COMMIT."""
    seen: list[tuple[str, int]] = []

    def before(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if sql.lstrip().upper().startswith("DELETE"):
            bound = params if isinstance(params, dict | list | tuple) else ()
            seen.append(("delete", len(bound)))

    def commit(_conn: Any) -> None:
        seen.append(("commit", 0))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "commit", commit)


def count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(DeliveryAttempt)) or 0)


def test_old_attempts_go_a_batch_per_transaction(db: Database):
    seed(db, old=2500, new=10)
    with statements(db) as seen:
        deleted = delete_attempts_before(db, utcnow() - timedelta(days=30), batch=1000)
    assert deleted == 2500 and count(db) == 10
    deletes = [n for kind, n in seen if kind == "delete"]
    assert len(deletes) == 3 and max(deletes) <= 1000
    # Each DELETE is followed by its own commit, before the next one starts.
    kinds = [kind for kind, _ in seen]
    for position in (i for i, kind in enumerate(kinds) if kind == "delete"):
        assert kinds[position + 1] == "commit"


def test_a_run_stops_after_its_batch_budget(db: Database):
    seed(db, old=250, new=0)
    cutoff = utcnow() - timedelta(days=30)
    assert delete_attempts_before(db, cutoff, batch=100, max_batches=2) == 200
    assert count(db) == 50
    assert delete_attempts_before(db, cutoff, batch=100, max_batches=2) == 50
    assert delete_attempts_before(db, cutoff, batch=100) == 0 and count(db) == 0


def test_nothing_recent_is_touched(db: Database):
    seed(db, old=0, new=20)
    with statements(db) as seen:
        assert delete_attempts_before(db, utcnow() - timedelta(days=30)) == 0
    assert count(db) == 20 and not [kind for kind, _ in seen if kind == "delete"]
