"""Claims: a row is taken by one claim at a time, and only the claim's holder hands it back;
a paused channel's rows wait; the sweeper sees rows whose time has come."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from syndicator.ledger.claims import (
    Deferral,
    claim,
    claim_due,
    claim_pending,
    defer,
    due_for_retry,
    has_due,
    new_token,
    release,
    reschedule_held,
)
from syndicator.store.db import Database
from syndicator.store.models import ChannelPause, Delivery, utcnow
from tests.unit.ledger.support import delivery_rows


def _state(db: Database, ids: list[int]) -> dict[int, tuple[str, int]]:
    with db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.status, Delivery.attempts).where(Delivery.id.in_(ids))
        )
        return {row_id: (status, attempts) for row_id, status, attempts in rows}


def test_a_row_is_claimed_once_whoever_asks_again(db: Database) -> None:
    ids = delivery_rows(db, 3)
    with db.session() as session:
        first = claim(session, ids, worker="w1")
    with db.session() as session:
        assert claim(session, ids, worker="w2") == []  # a task Redis delivered twice
        assert claim_pending(session, "webhooks") == []
    assert {job.delivery_id for job in first} == set(ids)
    assert len({job.token for job in first}) == 1 and all(job.attempt == 1 for job in first)
    assert set(_state(db, ids).values()) == {("in_progress", 1)}


def test_a_claim_tried_again_under_its_token_gets_what_the_first_try_took(db: Database) -> None:
    """The first try committed, but its answer was lost (the server went away): the
    second, under the same token, returns those rows and spends no second attempt."""
    ids = delivery_rows(db, 3)
    token = new_token()
    with db.session() as session:
        first = claim(session, ids[:2], worker="w1", token=token)
    with db.session() as session:
        again = claim(session, ids, worker="w1", token=token)
    assert [job.delivery_id for job in first] == ids[:2]
    assert [job.delivery_id for job in again] == ids
    assert {job.token for job in again} == {token}
    assert _state(db, ids) == {i: ("in_progress", 1) for i in ids}


def test_deferred_and_released_rows_get_their_attempt_back(db: Database) -> None:
    ids = delivery_rows(db, 3)
    with db.session() as session:
        jobs = claim(session, ids)
    later = utcnow() + timedelta(minutes=5)
    with db.session() as session:
        # A stranger's token moves nothing.
        assert defer(session, "not-the-token", [Deferral(ids[0], later)]) == []
        assert len(defer(session, jobs[0].token, [Deferral(ids[0], later)])) == 1
        release(session, jobs[0].token, [ids[1]])
    state = _state(db, ids)
    assert state[ids[0]] == ("pending", 0) and state[ids[1]] == ("pending", 0)
    assert state[ids[2]] == ("in_progress", 1)
    with db.session() as session:
        assert [job.delivery_id for job in claim(session, ids)] == [ids[1]]  # not deferred


def test_a_failed_batch_reschedules_what_it_holds_with_the_attempt_spent(db: Database) -> None:
    ids = delivery_rows(db, 2)
    with db.session() as session:
        jobs = claim(session, ids)
    with db.session() as session:
        assert reschedule_held(session, jobs[0].token, utcnow() + timedelta(minutes=1)) == 2
    assert set(_state(db, ids).values()) == {("pending", 1)}


def test_a_paused_channel_has_nothing_due(db: Database) -> None:
    ids = delivery_rows(db, 2, channel="email")
    with db.session() as session:
        session.add(ChannelPause(channel="email", paused_by="ops"))
    with db.session() as session:
        assert not has_due(session, "email")
        assert claim(session, ids) == [] and claim_due(session, "email", 10) == []
        assert "email" not in due_for_retry(session)
    with db.session() as session:
        session.query(ChannelPause).delete()
    with db.session() as session:
        assert has_due(session, "email")
        assert sorted(job.delivery_id for job in claim_due(session, "email", 10)) == ids


def test_the_sweeper_leaves_fresh_rows_to_their_task_and_takes_retries(db: Database) -> None:
    fresh = delivery_rows(db, 1)
    retried = delivery_rows(db, 1)
    with db.session() as session:
        jobs = claim(session, retried)
        release(session, jobs[0].token, retried)
        # A retry after a spent attempt: the attempt counts, and it is due now.
        session.execute(
            Delivery.__table__.update().where(Delivery.id.in_(retried)).values(attempts=1)
        )
    with db.session() as session:
        due = due_for_retry(session).get("webhooks", [])
    assert retried[0] in due and fresh[0] not in due
