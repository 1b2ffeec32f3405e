"""Recording moves each claimed row to its own state, and only rows its claim holds."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from syndicator.ledger.attempts import (
    AttemptRecord,
    attempts_by_delivery,
    record_attempts,
    record_claims,
)
from syndicator.ledger.claims import claim
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, utcnow
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


def test_attempts_come_back_by_delivery_oldest_first(db: Database) -> None:
    tried, untried = delivery_rows(db, 2)
    for number in (1, 2):
        with db.session() as session:
            (job,) = claim(session, [tried])
            outcome = "retrying" if number == 1 else "succeeded"
            record_attempts(
                session, job.token, [AttemptRecord(tried, job.attempt, outcome, utcnow(), 1.0)]
            )
        if number == 1:
            with db.session() as session:
                session.execute(update(Delivery).values(next_attempt_at=None))
    with db.session() as session:
        found = attempts_by_delivery(session, [untried, tried])
        assert set(found) == {tried, untried} and found[untried] == []
        assert [(a.number, a.outcome) for a in found[tried]] == [(1, "retrying"), (2, "succeeded")]
        assert attempts_by_delivery(session, []) == {}


def test_several_claims_record_together_each_only_its_own_rows(db: Database) -> None:
    """Records of three claims in one call: each row is recorded under the claim that
    holds it, a record naming the wrong claim or a released row changes nothing, and
    the call returns exactly what it applied."""
    ids = delivery_rows(db, 6)
    with db.session() as session:
        first = claim(session, ids[:2])
        second = claim(session, ids[2:4])
        third = claim(session, ids[4:])
    with db.session() as session:  # the sweeper took the third claim's last row back
        session.execute(
            Delivery.__table__.update()
            .where(Delivery.id == ids[5])
            .values(status="pending", claim_token=None)
        )

    def record(job_id: int, outcome: str = "succeeded") -> AttemptRecord:
        return AttemptRecord(job_id, 1, outcome, utcnow(), 1.0)

    claims = {
        first[0].token: [record(ids[0]), record(ids[1], "failed")],
        second[0].token: [record(ids[2]), record(ids[4])],  # ids[4] is the third's
        third[0].token: [record(ids[5])],  # released meanwhile
    }
    with db.session() as session:
        applied = record_claims(session, claims)
    assert sorted(r.delivery_id for r in applied) == [ids[0], ids[1], ids[2]]
    with db.session() as session:
        rows = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
        logged = session.scalars(select(DeliveryAttempt.delivery_id)).all()
    assert [rows[i].status for i in ids] == [
        "succeeded",
        "failed",
        "succeeded",
        "in_progress",  # the second claim's unrecorded row
        "in_progress",  # still the third claim's: not the second's to record
        "pending",
    ]
    assert rows[ids[4]].claim_token == third[0].token
    assert sorted(logged) == [ids[0], ids[1], ids[2]]
    with db.session() as session:  # the same flush again: nothing more
        assert record_claims(session, claims) == []
