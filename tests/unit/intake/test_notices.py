"""An operator notice is an event about no release and one delivery to ``ops``, due now,
written in the caller's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from syndicator.intake.notices import CHANNEL, OPERATORS, SOURCE, post_notice
from syndicator.ledger.claims import due_for_retry
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Event

PAYLOAD = {"partner_id": 3, "name": "연합뉴스", "url": "https://p.example/h", "reason": "410"}


def test_a_notice_is_an_event_of_its_own_with_one_delivery_due_now(db: Database) -> None:
    with db.session() as session:
        delivery_id = post_notice(session, "partner.disabled", PAYLOAD)
    with db.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        assert (delivery.channel, delivery.target, delivery.status) == (
            CHANNEL,
            OPERATORS,
            "pending",
        )
        event = session.get(Event, delivery.event_id)
        assert event is not None
        assert (event.type, event.source, event.release_id) == ("partner.disabled", SOURCE, None)
        assert event.payload == PAYLOAD
        # Due at once: the sweeper's next pass hands it to a worker.
        assert due_for_retry(session) == {CHANNEL: [delivery_id]}


def test_two_notices_are_two_deliveries(db: Database) -> None:
    with db.session() as session:
        first = post_notice(session, "partner.disabled", PAYLOAD)
        second = post_notice(session, "partner.disabled", PAYLOAD)
    assert first != second


def test_a_notice_falls_with_the_transaction_that_raised_it(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        post_notice(session, "partner.disabled", PAYLOAD)
        raise RuntimeError("the change it reports was rolled back")
    with db.session() as session:
        assert session.scalars(select(Delivery)).all() == []
        assert session.scalars(select(Event)).all() == []
