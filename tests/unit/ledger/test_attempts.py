"""Recording moves each claimed row to its own state, and only rows its claim holds."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from syndicator.ledger.attempts import AttemptRecord, record_attempts
from syndicator.ledger.claims import claim
from syndicator.store.db import Database
from syndicator.store.models import Delivery, utcnow
from tests.unit.ledger.support import delivery_rows

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
    ids = delivery_rows(db, len(outcomes) + 1)
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
