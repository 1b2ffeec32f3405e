"""In order per partner and release: a row waits, unspent, while an earlier one of its
target and release is pending or in progress; a retraction goes last; other releases and
targets never wait; the sweeper passes held rows by."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from syndicator.ledger.attempts import AttemptRecord, record_attempts
from syndicator.ledger.claims import Claimed, claim, claim_due, due_for_retry
from syndicator.ledger.ordering import order_of, release_order
from syndicator.ledger.targets import insert_targets, pending_ids
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Event, utcnow

PUBLISHED, UPDATED, RETRACTED = "release.published", "release.updated", "release.retracted"


def _event(db: Database, type_: str, release: int, at: datetime, targets: list[str]) -> list[int]:
    """A stored event about ``release`` received ``at``, planned for ``targets``."""
    event_id = f"evt-{uuid.uuid4().hex}"
    with db.session() as session:
        session.add(
            Event(
                id=event_id,
                webhook_id=event_id,
                type=type_,
                release_id=release,
                source="hook",
                outcome="applied",
                payload={},
                received_at=at,
            )
        )
        session.flush()
        insert_targets(session, event_id, "webhooks", targets, order=order_of(session, event_id))
        return pending_ids(session, event_id, "webhooks")


def _release() -> int:
    return uuid.uuid4().int % 1_000_000_000


def _claim(db: Database, ids: list[int]) -> list[Claimed]:
    with db.session() as session:
        return claim(session, ids)


def _record(db: Database, job: Claimed, outcome: str, retry_at: datetime | None = None) -> None:
    with db.session() as session:
        record = AttemptRecord(job.delivery_id, job.attempt, outcome, utcnow(), 1.0)
        if outcome == "retrying":
            record = AttemptRecord(
                job.delivery_id, job.attempt, outcome, utcnow(), 1.0, next_attempt_at=retry_at
            )
        assert record_attempts(session, job.token, [record])


def _rows(db: Database, ids: list[int]) -> dict[int, tuple[str, int]]:
    with db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.status, Delivery.attempts).where(Delivery.id.in_(ids))
        )
        return {row_id: (status, attempts) for row_id, status, attempts in rows}


def test_a_retraction_sorts_after_every_event_of_its_release() -> None:
    now = utcnow()
    assert release_order(UPDATED, now) < release_order(UPDATED, now + timedelta(microseconds=1))
    assert release_order(RETRACTED, now) > release_order(UPDATED, now + timedelta(days=3650))
    assert release_order(UPDATED, now.replace(tzinfo=None)) == release_order(UPDATED, now)


def test_an_update_waits_for_the_publish_it_corrects_without_spending_attempts(
    db: Database,
) -> None:
    release, other, t0 = _release(), _release(), utcnow()
    (publish,) = _event(db, PUBLISHED, release, t0, ["partner:1"])
    later = t0 + timedelta(seconds=1)
    update, update_b = _event(db, UPDATED, release, later, ["partner:1", "partner:2"])
    (elsewhere,) = _event(db, PUBLISHED, other, t0 + timedelta(seconds=2), ["partner:1"])
    ids = [publish, update, update_b, elsewhere]

    jobs = {job.delivery_id: job for job in _claim(db, ids)}
    # partner:2 never had the publish; another release of partner:1 is not held up.
    assert set(jobs) == {publish, update_b, elsewhere}
    _record(db, jobs[publish], "retrying", utcnow() + timedelta(minutes=5))
    for _ in range(3):  # a task redelivered, the sweeper, a batch topping itself up
        assert _claim(db, [update]) == []
        with db.session() as session:
            assert update not in due_for_retry(session).get("webhooks", [])
            assert update not in [job.delivery_id for job in claim_due(session, "webhooks", 50)]
    assert _rows(db, [update])[update] == ("pending", 0)

    with db.session() as session:
        retry = claim(session, [publish])
    assert retry == []  # its retry is not due yet: make it due, as the sweeper would
    with db.session() as session:
        session.execute(
            Delivery.__table__.update()
            .where(Delivery.id == publish)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    (retry_job,) = _claim(db, [publish, update])  # one claim with both: the publish only
    assert retry_job.delivery_id == publish
    _record(db, retry_job, "succeeded")
    # Done: the update is due now (no first-try grace), for the sweeper and for a claim.
    with db.session() as session:
        assert update in due_for_retry(session)["webhooks"]
    (sent,) = _claim(db, [update])
    assert (sent.delivery_id, sent.attempt) == (update, 1)


def test_a_given_up_event_lets_the_later_ones_go_and_a_retraction_goes_last(
    db: Database,
) -> None:
    release, t0 = _release(), utcnow()
    (retraction,) = _event(db, RETRACTED, release, t0 + timedelta(seconds=1), ["partner:7"])
    (publish,) = _event(db, PUBLISHED, release, t0, ["partner:7"])
    # An update received after the retraction still goes before it.
    (update,) = _event(db, UPDATED, release, t0 + timedelta(seconds=2), ["partner:7"])
    ids = [retraction, publish, update]
    order = []
    for outcome in ("failed", "succeeded", "succeeded"):
        (job,) = _claim(db, ids)
        order.append(job.delivery_id)
        _record(db, job, outcome)
    assert order == [publish, update, retraction]
    assert _rows(db, ids) == {
        publish: ("failed", 1),
        update: ("succeeded", 1),
        retraction: ("succeeded", 1),
    }


def test_rows_of_events_about_no_release_are_never_held(db: Database) -> None:
    from tests.unit.ledger.support import delivery_rows

    ids = delivery_rows(db, 2)
    with db.session() as session:
        session.execute(
            Delivery.__table__.update().where(Delivery.id.in_(ids)).values(release_id=None)
        )
    assert len(_claim(db, ids)) == 2


# One step of a random run: claim some rows, then record an outcome for each claimed.
steps = st.lists(
    st.tuples(
        st.sets(st.integers(0, 5), min_size=1),
        st.lists(st.sampled_from(["succeeded", "retrying", "failed"]), min_size=6, max_size=6),
    ),
    min_size=1,
    max_size=8,
)
events = st.lists(
    st.tuples(st.sampled_from([PUBLISHED, UPDATED, RETRACTED]), st.integers(0, 1)),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=events, steps=steps, planned=st.permutations(range(6)))
def test_any_interleaving_sends_each_partners_release_in_order(
    db: Database,
    events: list[tuple[str, int]],
    steps: list[tuple[set[int], list[str]]],
    planned: list[int],
) -> None:
    releases, t0 = [_release(), _release()], utcnow()
    # Events received in list order, planned (fan-out) in any order.
    place: dict[int, tuple[int, int]] = {}  # row id -> (release index, place)
    for i in [p for p in planned if p < len(events)]:
        type_, which = events[i]
        received = t0 + timedelta(seconds=i)
        for row in _event(db, type_, releases[which], received, ["partner:1", "partner:2"]):
            place[row] = (which, release_order(type_, received))
    ids = list(place)
    with db.session() as session:
        query = select(Delivery.id, Delivery.target).where(Delivery.id.in_(ids))
        target_of = {row_id: target for row_id, target in session.execute(query)}
    attempts_spent: dict[int, int] = dict.fromkeys(ids, 0)

    def earlier_unfinished(row: int) -> list[int]:
        state = _rows(db, ids)
        return [
            other
            for other in ids
            if target_of[other] == target_of[row]
            and place[other][0] == place[row][0]
            and (place[other][1], other) < (place[row][1], row)
            and state[other][0] in ("pending", "in_progress")
        ]

    def run(picks: set[int], outcomes: list[str]) -> None:
        chosen = [ids[i % len(ids)] for i in picks]
        with db.session() as session:
            session.execute(  # every retry due at once: order must hold regardless
                Delivery.__table__.update()
                .where(Delivery.id.in_(ids), Delivery.status == "pending")
                .values(next_attempt_at=None)
            )
        jobs = _claim(db, chosen)
        for job in jobs:
            assert earlier_unfinished(job.delivery_id) == [], "sent before an earlier event"
            attempts_spent[job.delivery_id] += 1
            assert job.attempt == attempts_spent[job.delivery_id]  # held rows spent nothing
        for job, outcome in zip(jobs, outcomes, strict=False):
            _record(db, job, outcome, utcnow() + timedelta(minutes=1))
        for job in jobs[len(outcomes) :]:
            _record(db, job, "succeeded")

    for picks, outcomes in steps:
        run(picks, outcomes)
    # Then every partner succeeds: everything still pending goes out, in order, and ends.
    for _ in range(len(ids) + 1):
        run(set(range(len(ids))), ["succeeded"] * len(ids))
    assert {status for status, _ in _rows(db, ids).values()} <= {"succeeded", "failed"}
