"""The delivery ledger on SQLite and PostgreSQL: claims, attempts, retries, leases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import ClassVar

from sqlalchemy import select, update

from syndicator.channels.base import (
    BatchContext,
    DeliveryOutcome,
    EventRecord,
    SyncChannel,
)
from syndicator.delivery.runner import load_event, plan_event, run_due
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.intake.outbox import resend_unplanned
from syndicator.ledger.claims import Claimed, claim, due_for_retry
from syndicator.ledger.targets import ensure_deliveries
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, OutboxEntry, utcnow
from tests.factories import make_event


class RecordingChannel(SyncChannel):
    """A channel whose receiver is a list: what it was asked to deliver, in order."""

    name: ClassVar[str] = "recording"
    queue: ClassVar[str] = "webhooks"
    retry_schedule: ClassVar[tuple[float, ...]] = (5, 60)

    def __init__(self, fail_with: str | None = None, retryable: bool = True) -> None:
        self.delivered: list[str] = []
        self.fail_with = fail_with
        self.retryable = retryable

    def plan(self, event: EventRecord) -> Sequence[str]:
        return ["a", "b"]

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        self.delivered.append(job.target)
        if self.fail_with:
            return DeliveryOutcome(
                job.delivery_id,
                ok=False,
                retryable=self.retryable,
                error_class="E_HTTP",
                detail=self.fail_with,
            )
        return DeliveryOutcome(job.delivery_id, ok=True)


def an_event(db: Database, release_id: int = 1) -> str:
    with db.session() as session:
        result = store_event(
            session,
            CmsEvent.model_validate(make_event(release_id)),
            webhook_id=f"msg_{release_id}",
            source="hook",
            enqueue=True,
        )
    return result.event_id


def test_planning_twice_finds_the_same_rows(db: Database):
    event_id = an_event(db)
    with db.session() as session:
        first = ensure_deliveries(session, event_id, "recording", ["a", "b"])
    with db.session() as session:
        second = ensure_deliveries(session, event_id, "recording", ["a", "b"])
    assert sorted(first) == sorted(second) and len(first) == 2


def test_a_redelivered_task_never_repeats_a_finished_delivery(db: Database):
    event_id = an_event(db)
    with db.session() as session:
        ids = ensure_deliveries(session, event_id, "recording", ["a", "b"])
    channel = RecordingChannel()
    run_due(db, channel, ids)
    run_due(db, channel, ids)  # the same task, delivered again by Redis
    assert channel.delivered == ["a", "b"]
    with db.session() as session:
        assert {d.status for d in session.scalars(select(Delivery))} == {"succeeded"}
        assert len(session.scalars(select(DeliveryAttempt)).all()) == 2


def test_concurrent_claims_split_the_work(db: Database):
    event_id = an_event(db)
    with db.session() as session:
        ids = ensure_deliveries(session, event_id, "recording", ["a", "b"])
    with db.session() as session:
        mine = claim(session, ids)
    with db.session() as session:
        theirs = claim(session, ids)
    assert len(mine) == 2 and theirs == []


def test_failures_are_retried_then_marked_failed(db: Database):
    event_id = an_event(db)
    with db.session() as session:
        ids = ensure_deliveries(session, event_id, "recording", ["a"])
    channel = RecordingChannel(fail_with="503 Service Unavailable")
    for _ in range(3):
        run_due(db, channel, ids)
        with db.session() as session:  # pretend the retry time has come
            session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    with db.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        attempts = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
    assert [a.outcome for a in attempts] == ["retrying", "retrying", "failed"]
    assert [a.number for a in attempts] == [1, 2, 3]
    assert delivery.status == "failed" and delivery.last_error == "503 Service Unavailable"
    assert all(a.error_class == "E_HTTP" for a in attempts)


def test_permanent_failure_is_not_retried(db: Database):
    event_id = an_event(db)
    with db.session() as session:
        ids = ensure_deliveries(session, event_id, "recording", ["a"])
    run_due(db, RecordingChannel(fail_with="410 Gone", retryable=False), ids)
    with db.session() as session:
        assert session.scalars(select(Delivery.status)).one() == "failed"


def test_a_claim_held_by_a_dead_worker_is_taken_back_after_its_lease(db: Database):
    event_id = an_event(db)
    with db.session() as session:
        ids = ensure_deliveries(session, event_id, "recording", ["a"])
        claim(session, ids)  # the worker dies here, holding the row
    with db.session() as session:
        assert claim(session, ids) == []
        session.execute(
            update(Delivery).values(
                claimed_at=utcnow() - timedelta(minutes=11),
                created_at=utcnow() - timedelta(minutes=11),
            )
        )
    with db.session() as session:
        assert due_for_retry(session) == {"recording": ids}
    channel = RecordingChannel()
    run_due(db, channel, ids)
    assert channel.delivered == ["a"]


def test_a_channel_that_raises_is_recorded_not_lost(db: Database):
    class Broken(RecordingChannel):
        def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
            raise ConnectionError("hub unreachable")

    event_id = an_event(db)
    with db.session() as session:
        ids = ensure_deliveries(session, event_id, "recording", ["a"])
    run_due(db, Broken(), ids)
    with db.session() as session:
        attempt = session.scalars(select(DeliveryAttempt)).one()
        assert attempt.outcome == "retrying" and attempt.error_class == "ConnectionError"


def test_a_fan_out_the_broker_lost_is_sent_again_once_per_grace(db: Database):
    lost, planned, recent, waiting = (an_event(db, n) for n in (1, 2, 3, 4))
    relayed_long_ago = utcnow() - timedelta(minutes=20)
    with db.session() as session:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.event_id.in_([lost, planned]))
            .values(relayed_at=relayed_long_ago)
        )
        session.execute(
            update(OutboxEntry).where(OutboxEntry.event_id == recent).values(relayed_at=utcnow())
        )
    event = load_event(db, planned)
    assert event is not None
    plan_event(db, {"recording": RecordingChannel()}, event, lambda _: None)  # its fan-out ran
    sent: list[str] = []
    grace = timedelta(minutes=15)
    assert resend_unplanned(db, sent.append, grace) == [lost] == sent
    # Not again until another grace period has passed: the resend restarted the clock.
    assert resend_unplanned(db, sent.append, grace) == []
    with db.session() as session:
        row = session.scalars(select(OutboxEntry).where(OutboxEntry.event_id == lost)).one()
        assert row.relay_attempts == 1 and row.planned_at is None
    assert waiting not in sent  # never relayed: the relay's job, not the sweeper's
