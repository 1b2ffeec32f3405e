"""The outbox: committed events reach the broker in order, a broker error stops the relay
with the row kept, and a fan-out the broker lost is sent again after its grace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.intake.outbox import (
    awaiting_fanout,
    backlog,
    mark_planned,
    relay_again_unplanned,
    relay_once,
    resend_unplanned,
)
from syndicator.store.db import Database
from syndicator.store.models import OutboxEntry, utcnow
from tests.factories import make_event


def _accept(db: Database, *release_ids: int) -> list[str]:
    return [
        accept_event(db, CmsEvent.model_validate(make_event(n)), webhook_id=f"msg_{n}").event_id
        for n in release_ids
    ]


def test_events_are_relayed_in_order_and_once(db: Database) -> None:
    ids = _accept(db, 1, 2, 3)
    assert backlog(db)[0] == 3
    sent: list[str] = []
    assert relay_once(db, sent.append) == 3
    assert sent == ids and backlog(db) == (0, None)
    assert relay_once(db, sent.append) == 0 and sent == ids
    assert awaiting_fanout(db) == 3


def test_the_relay_stops_before_the_first_send_it_is_no_longer_allowed(db: Database) -> None:
    ids = _accept(db, 1, 2, 3)
    sent: list[str] = []
    # A lease running out after two sends: the third waits for whoever holds it next.
    assert relay_once(db, sent.append, allowed=lambda: len(sent) < 2) == 2
    assert sent == ids[:2] and backlog(db)[0] == 1
    assert relay_once(db, sent.append) == 1 and sent == ids


def test_a_broker_error_stops_the_relay_and_keeps_the_row(db: Database) -> None:
    first, second = _accept(db, 1, 2)
    sent: list[str] = []

    def send(event_id: str) -> None:
        if event_id == second:
            raise ConnectionError("broker away")
        sent.append(event_id)

    with pytest.raises(ConnectionError):
        relay_once(db, send)
    assert sent == [first] and backlog(db)[0] == 1
    with db.session() as session:
        row = session.scalars(select(OutboxEntry).where(OutboxEntry.event_id == second)).one()
        assert row.relay_attempts == 1 and "broker away" in (row.last_error or "")
    assert relay_once(db, sent.append) == 1 and sent == [first, second]


def test_a_lost_fanout_is_sent_again_after_its_grace_only(db: Database) -> None:
    planned, lost = _accept(db, 1, 2)
    relay_once(db, lambda _: None)
    with db.session() as session:
        mark_planned(session, planned)
    grace = timedelta(minutes=10)
    sent: list[str] = []
    assert resend_unplanned(db, sent.append, grace) == []  # still within the broker's time
    with db.session() as session:
        session.execute(update(OutboxEntry).values(relayed_at=utcnow() - 2 * grace))
    assert resend_unplanned(db, sent.append, grace) == [lost] == sent
    assert resend_unplanned(db, sent.append, grace) == []  # its clock restarted


def test_a_restart_hands_unplanned_events_back_to_the_relay(db: Database) -> None:
    planned, unplanned = _accept(db, 1, 2)
    relay_once(db, lambda _: None)
    with db.session() as session:
        mark_planned(session, planned)
    with db.session() as session:
        assert relay_again_unplanned(session) == 1
    sent: list[str] = []
    relay_once(db, sent.append)
    assert sent == [unplanned]
