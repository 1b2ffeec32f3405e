"""Targets are opaque references: personal data can never become a ledger key. Recording
moves each claimed row to its own state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from syndicator.ledger.claims import (
    TARGET_REF,
    AttemptRecord,
    InvalidTarget,
    check_targets,
    chunked,
    claim,
    ensure_deliveries,
    record_attempts,
)
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Event, utcnow


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


def test_chunks_are_bounded_and_lazy():
    def endless():
        n = 0
        while True:
            yield n
            n += 1

    chunks = chunked(endless(), 1000)
    assert next(chunks) == list(range(1000)) and next(chunks)[0] == 1000
    assert list(chunked([], 10)) == [] and list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]


OUTCOMES = ("succeeded", "retrying", "failed", "suppressed", "uncertain")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(OUTCOMES), st.sampled_from(["E1", "E2"])), min_size=1))
def test_a_recorded_batch_leaves_each_row_in_its_own_state(
    db: Database, outcomes: list[tuple[str, str]]
):
    """Rows that end alike move together, the rest one by one: either way each row ends
    with its own status, retry time and error, and no other row moves."""
    event_id = f"evt-{uuid.uuid4().hex}"
    targets = [f"partner:{n}" for n in range(len(outcomes) + 1)]
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
        ids = ensure_deliveries(session, event_id, "webhooks", targets)
    with db.session() as session:
        jobs = claim(session, ids)
    retry = datetime(2030, 1, 1, tzinfo=UTC)
    records = [
        AttemptRecord(
            job.delivery_id,
            job.attempt,
            outcome,
            utcnow(),
            1.0,
            error_class=None if outcome == "succeeded" else error,
            detail=None if outcome == "succeeded" else f"{error} detail",
            next_attempt_at=retry if outcome == "retrying" else None,
        )
        for job, (outcome, error) in zip(jobs, outcomes, strict=False)
    ]
    with db.session() as session:
        assert len(record_attempts(session, jobs[0].token, records)) == len(outcomes)
    expected = {
        "succeeded": "succeeded",
        "retrying": "pending",
        "failed": "failed",
        "suppressed": "suppressed",
        "uncertain": "uncertain",
    }
    with db.session() as session:
        rows = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    for record in records:
        row = rows[record.delivery_id]
        assert row.status == expected[record.outcome]
        assert row.claim_token is None
        assert row.last_error == record.detail
        assert (row.next_attempt_at is not None) == (record.outcome == "retrying")
    untouched = rows[jobs[-1].delivery_id]  # claimed, never recorded: still held
    assert untouched.status == "in_progress" and untouched.claim_token == jobs[0].token
