"""Targets are opaque references: personal data can never become a ledger key."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from syndicator.ledger.claims import due_for_retry
from syndicator.ledger.targets import TARGET_REF, InvalidTarget, check_targets, ensure_due_now
from syndicator.store.db import Database
from syndicator.store.models import Delivery
from tests.unit.ledger.support import delivery_rows


@pytest.mark.parametrize(
    "target", ["site", "subscriber:1234", "partner:7", "mx:mail.example.kr", "list:a_b-c.d"]
)
def test_references_are_accepted(target: str):
    check_targets("newsletter", [target], TARGET_REF)


@pytest.mark.parametrize(
    "target",
    [
        "kim.minsu@example.kr",
        "subscriber:kim.minsu@example.kr",
        "김민수",
        "subscriber:김민수",
        "https://partner.example/hook?token=s3cret",
        "subscriber:1234\n",
        "Subscriber:1",
        "subscriber:",
        "subscriber:" + "9" * 65,
        "",
    ],
)
def test_anything_else_is_refused_without_repeating_it(target: str):
    with pytest.raises(InvalidTarget) as refused:
        check_targets("newsletter", ["site", target], TARGET_REF)
    message = str(refused.value)
    assert "#1" in message and "newsletter" in message
    # The message depends on the target's position and length, never on its content.
    with pytest.raises(InvalidTarget) as other:
        check_targets("newsletter", ["site", "@" * len(target)], TARGET_REF)
    assert message == str(other.value)


def test_a_row_made_due_now_is_created_once_and_due_until_tried(db: Database) -> None:
    (first,) = delivery_rows(db, 1, channel="notices")
    with db.session() as session:
        event_id = session.scalar(select(Delivery.event_id).where(Delivery.id == first))
        assert event_id is not None
        assert ensure_due_now(session, event_id, "notices", "partner:0") == first
        assert due_for_retry(session) == {"notices": [first]}  # the sweeper takes it
        session.execute(update(Delivery).values(attempts=1, next_attempt_at=None))
        # Planned again after it was tried: the same row, its retry time left alone.
        assert ensure_due_now(session, event_id, "notices", "partner:0") == first
        row = session.get(Delivery, first)
        assert row is not None and row.next_attempt_at is None
