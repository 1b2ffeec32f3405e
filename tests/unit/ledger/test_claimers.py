"""The release rule, on a fake clock: a claim lasts exactly as long as its worker process
is heard from. A silent, stopped or vanished worker's rows go back to pending at once,
with the attempt it spent logged; a live worker's, and a claim naming no worker, stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from syndicator.ledger.attempts import AttemptRecord, record_attempts
from syndicator.ledger.claimers import (
    STALE_AFTER,
    WORKER_LOST,
    beat,
    mark_stopped,
    prune,
    read_liveness,
    register,
    release_lost_claims,
)
from syndicator.ledger.claims import claim, claim_due, claim_pending, due_for_retry, suspects_due
from syndicator.ledger.poison import POISON, POISON_STRIKES, suspect_claim_size
from syndicator.ledger.tallies import read_tallies
from syndicator.ledger.targets import requeue_manual
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, WorkerProcess, utcnow
from tests.unit.ledger.support import delivery_rows

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def _worker(db: Database, at: datetime = T0, host: str = "elsewhere") -> str:
    worker = uuid.uuid4().hex
    with db.session() as session:
        register(session, worker, host, 4242, "-/-/4242", now=at)
    return worker


def _status(db: Database, ids: list[int]) -> dict[int, tuple[str, int, str | None]]:
    with db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.status, Delivery.attempts, Delivery.claim_token).where(
                Delivery.id.in_(ids)
            )
        )
        return {i: (status, attempts, token) for i, status, attempts, token in rows}


def test_a_silent_workers_claims_go_back_due_with_the_attempt_logged(db: Database):
    ids = delivery_rows(db, 3)
    worker = _worker(db)
    with db.session() as session:
        jobs = claim(session, ids, worker)
    with db.session() as session:  # heard from 15 s ago: still holding its rows
        assert beat(session, worker, now=T0 + timedelta(seconds=5))
        assert release_lost_claims(session, T0 + timedelta(seconds=20), STALE_AFTER) == []
    assert {s for s, _, _ in _status(db, ids).values()} == {"in_progress"}

    later = T0 + timedelta(seconds=5) + STALE_AFTER + timedelta(seconds=1)
    with db.session() as session:
        (released,) = release_lost_claims(session, later, STALE_AFTER)
    assert released.reason == "heartbeat" and released.channels == {"webhooks": 3}
    # Pending, due now, the claim's attempt spent (it may have been sent).
    assert set(_status(db, ids).values()) == {("pending", 1, None)}
    with db.session() as session:
        # Each was in flight when its worker died: each goes alone now.
        assert "webhooks" not in due_for_retry(session)
        assert {k: sorted(v) for k, v in suspects_due(session).items()} == {
            ("webhooks", 1): sorted(ids)
        }
        logged = session.scalars(select(DeliveryAttempt)).all()
        tallies = read_tallies(session)
    assert [(a.outcome, a.error_class, a.number) for a in logged] == [
        ("retrying", WORKER_LOST, 1)
    ] * 3
    assert "stopped heartbeating" in (logged[0].detail or "")
    assert sum(t.attempts for t in tallies if t.outcome == "retrying") == 3
    # The lost worker's own late outcome finds nothing it still holds.
    record = AttemptRecord(ids[0], 1, "succeeded", utcnow(), 1.0)
    with db.session() as session:
        assert record_attempts(session, jobs[0].token, [record]) == []


def test_a_worker_this_host_knows_is_gone_is_released_without_waiting(db: Database):
    ids = delivery_rows(db, 2)
    worker, alive = _worker(db), _worker(db)
    with db.session() as session:
        claim(session, ids[:1], worker)
        claim(session, ids[1:], alive)
    with db.session() as session:
        released = release_lost_claims(session, T0, STALE_AFTER, lambda w: w.id == worker)
    assert [(r.worker_id, r.reason) for r in released] == [(worker, "gone")]
    assert _status(db, ids)[ids[0]][0] == "pending"
    assert _status(db, ids)[ids[1]][0] == "in_progress"


def test_a_worker_that_stopped_holds_nothing(db: Database):
    ids = delivery_rows(db, 1)
    worker = _worker(db)
    with db.session() as session:
        claim(session, ids, worker)
        mark_stopped(session, worker, now=T0)
        assert not beat(session, worker, now=T0)  # a stopped worker stays stopped
    with db.session() as session:
        (released,) = release_lost_claims(session, T0, STALE_AFTER)
    assert released.reason == "stopped"


def test_a_sweeper_not_heard_from_itself_leaves_silent_workers_be(db: Database):
    """After a database outage every heartbeat is old, the live workers' too: a sweeper
    that could not write its own may not call others silent, only stopped or gone."""
    ids = delivery_rows(db, 3)
    silent, stopped, gone = _worker(db), _worker(db), _worker(db)
    with db.session() as session:
        claim(session, ids[:1], silent)
        claim(session, ids[1:2], stopped)
        claim(session, ids[2:], gone)
        mark_stopped(session, stopped, now=T0)
    later = T0 + STALE_AFTER * 10
    with db.session() as session:
        released = release_lost_claims(
            session, later, STALE_AFTER, lambda w: w.id == gone, heartbeats=False
        )
    assert sorted(r.reason for r in released) == ["gone", "stopped"]
    assert _status(db, ids)[ids[0]][0] == "in_progress"


def test_a_claim_naming_no_worker_is_left_to_the_lease(db: Database):
    ids = delivery_rows(db, 1)
    with db.session() as session:
        claim(session, ids)
    with db.session() as session:
        assert release_lost_claims(session, T0 + timedelta(days=1), STALE_AFTER) == []
    assert _status(db, ids)[ids[0]][0] == "in_progress"


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    workers=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=60),  # heartbeat age, seconds
            st.integers(min_value=0, max_value=4),  # rows it holds
            st.booleans(),  # stopped cleanly
        ),
        min_size=1,
        max_size=6,
    ),
    stale=st.integers(min_value=5, max_value=40),
)
def test_exactly_the_claims_of_lost_workers_are_released(
    db: Database, workers: list[tuple[int, int, bool]], stale: int
):
    now = T0 + timedelta(minutes=5)
    with db.session() as session:  # one database for every example: start from none
        session.execute(delete(DeliveryAttempt))
        session.execute(delete(Delivery))
        session.execute(delete(WorkerProcess))
    held: dict[str, list[int]] = {}
    expected_lost: set[int] = set()
    for age, rows, stopped in workers:
        worker = _worker(db, at=now - timedelta(minutes=1))
        ids = delivery_rows(db, rows)
        with db.session() as session:
            claim(session, ids, worker)
            beat(session, worker, now=now - timedelta(seconds=age))
            if stopped:
                mark_stopped(session, worker, now=now)
        held[worker] = ids
        if stopped or age > stale:
            expected_lost.update(ids)
    everything = [i for ids in held.values() for i in ids]
    with db.session() as session:
        before = read_liveness(session, now, timedelta(seconds=stale))
        released = release_lost_claims(session, now, timedelta(seconds=stale))
        after = read_liveness(session, now, timedelta(seconds=stale))
    assert before.lost_claims == len(expected_lost) and after.lost_claims == 0
    assert sum(r.deliveries for r in released) == len(expected_lost)
    status = _status(db, everything)
    assert {i for i in everything if status[i][0] == "pending"} == expected_lost
    assert all(status[i][1] == 1 for i in everything)  # every claim's attempt stays spent


def test_live_workers_are_counted_and_long_gone_ones_forgotten(db: Database):
    now = T0 + timedelta(days=2)
    fresh, silent, holding = _worker(db), _worker(db), _worker(db)
    ids = delivery_rows(db, 1)
    with db.session() as session:
        claim(session, ids, holding)
        beat(session, fresh, now=now)
        assert read_liveness(session, now, STALE_AFTER).live_workers == 1
        assert prune(session, now) == 1  # silent since T0 and holding nothing
        names = set(session.scalars(select(WorkerProcess.id)))
    assert names == {fresh, holding} and silent not in names


# -- poison: a row whose delivery brings its worker down every time ----------------------


def _crash_with(db: Database, delivery_id: int, at: datetime) -> None:
    """A worker claims the row alone, then dies (stops) with it in flight; the sweeper."""
    worker = _worker(db, at)
    with db.session() as session:
        assert claim(session, [delivery_id], worker), "a suspect is claimed when alone"
        mark_stopped(session, worker, now=at)
    with db.session() as session:
        release_lost_claims(session, at, STALE_AFTER)


def _row(db: Database, delivery_id: int) -> Delivery:
    with db.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        session.expunge(row)
        return row


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(crashes=st.integers(1, 2 * POISON_STRIKES), recovered_after=st.integers(0, 8))
def test_a_row_that_brings_its_worker_down_every_time_is_failed_as_poison(
    db: Database, crashes: int, recovered_after: int
):
    (row_id,) = delivery_rows(db, 1)
    past = utcnow() - timedelta(seconds=1)
    # An outcome in between (the row delivered fine once) starts the count again.
    for n in range(crashes):
        if n == recovered_after and n < POISON_STRIKES - 1:
            with db.session() as session:
                (job,) = claim(session, [row_id])
                record_attempts(
                    session,
                    job.token,
                    [AttemptRecord(row_id, job.attempt, "retrying", T0, 1.0, next_attempt_at=past)],
                )
            assert _row(db, row_id).crashes == 0
        if _row(db, row_id).status == "failed":
            break
        _crash_with(db, row_id, T0 + timedelta(minutes=n))
    struck = crashes - (
        recovered_after if recovered_after < min(crashes, POISON_STRIKES - 1) else 0
    )
    row = _row(db, row_id)
    if struck >= POISON_STRIKES:
        assert (row.status, row.claim_token, row.next_attempt_at) == ("failed", None, None)
        assert row.last_error and "bring" in row.last_error and "replay" in row.last_error
        with db.session() as session:
            last = session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == row_id)
                .order_by(DeliveryAttempt.id.desc())
                .limit(1)
            ).one()
            assert (last.outcome, last.error_class) == ("failed", POISON)
            assert row_id not in {i for ids in suspects_due(session).values() for i in ids}
        # Replayable: an operator's replay makes it due again, with a clean count.
        with db.session() as session:
            assert requeue_manual(session, Delivery.id == row_id) == 1
        assert (_row(db, row_id).status, _row(db, row_id).crashes) == ("pending", 0)
    else:
        assert (row.status, row.crashes) == ("pending", struck)


def _free(db: Database, ids: list[int]) -> None:
    with db.session() as session:
        session.execute(
            update(Delivery).where(Delivery.id.in_(ids)).values(status="pending", claim_token=None)
        )


def test_a_struck_row_goes_in_ever_smaller_claims_until_it_is_alone(db: Database):
    suspect, *others = delivery_rows(db, 5)
    for n in range(3):  # three strikes: claims of at most 16 rows may take it
        _crash_with(db, suspect, T0 + timedelta(minutes=n))
    assert suspect_claim_size(3) < 17
    with db.session() as session:  # a large claim passes it by, and takes the others
        taken = claim(session, [*others, *range(10**6, 10**6 + 16), suspect])
        assert sorted(j.delivery_id for j in taken) == others
    _free(db, others)
    with db.session() as session:  # a batch topping itself up passes it by too
        assert sorted(j.delivery_id for j in claim_due(session, "webhooks", 10)) == others
    _free(db, others)
    with db.session() as session:  # a claim its size takes it
        assert len(claim(session, [suspect, *others])) == 5
    _free(db, [suspect, *others])
    with db.session() as session:  # a coalescing claim takes the most struck first
        assert [j.delivery_id for j in claim_pending(session, "webhooks")] == [suspect]
    with db.session() as session:
        assert sorted(j.delivery_id for j in claim_pending(session, "webhooks")) == others
