"""The recorder: outcomes reach the ledger in small transactions as they arrive, each row
moved to its own state, a flush due by rows or by time (a fake clock), and a row no
longer held by the claim left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from syndicator.channels.base import DeliveryOutcome
from syndicator.delivery import recorder as recorder_module
from syndicator.delivery.recorder import FLUSH_ROWS, FLUSH_SECONDS, Recorder, failure
from syndicator.delivery.runner import Enqueue, plan_event
from syndicator.ledger.claims import Claimed, claim
from syndicator.store.db import Database
from syndicator.store.models import Delivery, utcnow
from tests.unit.clock import FakeClock
from tests.unit.delivery.fakes import Newsletter, an_event, attempt_outcomes, statuses


def _claimed(db: Database, channel: Newsletter) -> list[Claimed]:
    sent: list[Enqueue] = []
    plan_event(db, {channel.name: channel}, an_event(db), sent.append)
    with db.session() as session:
        return claim(session, [i for item in sent for i in item.delivery_ids])


def test_each_outcome_moves_its_row_to_its_own_state(db: Database) -> None:
    channel = Newsletter(count=4)
    jobs = _claimed(db, channel)
    recorder = Recorder(db, channel, "scheduled")
    later = utcnow() + timedelta(minutes=5)
    outcomes = [
        DeliveryOutcome(jobs[0].delivery_id, ok=True),
        DeliveryOutcome(jobs[1].delivery_id, ok=False, error_class="E_TEMP"),
        DeliveryOutcome.permanent(jobs[2].delivery_id, "E_GONE"),
        DeliveryOutcome(jobs[3].delivery_id, ok=False, not_before=later),
    ]
    for job, outcome in zip(jobs, outcomes, strict=True):
        recorder.add(job, outcome, utcnow(), 3.0)
    assert recorder.buffered == 4 and statuses(db) == {("in_progress", 1): 4}
    recorder.flush()
    assert recorder.buffered == 0 and recorder.recorded == 4
    # The deferred row got its attempt back and wrote no attempt row.
    assert statuses(db) == {
        ("succeeded", 1): 1,
        ("pending", 1): 1,
        ("failed", 1): 1,
        ("pending", 0): 1,
    }
    assert attempt_outcomes(db) == {"succeeded": 1, "retrying": 1, "failed": 1}


def test_a_manual_resend_is_tried_once(db: Database) -> None:
    channel = Newsletter(count=1)
    (job,) = _claimed(db, channel)
    manual = Claimed(**{**job.__dict__, "trigger": "manual"})
    recorder = Recorder(db, channel, "scheduled")
    recorder.add(manual, DeliveryOutcome(job.delivery_id, ok=False, error_class="E"), utcnow(), 1)
    recorder.flush()
    assert statuses(db) == {("failed", 1): 1}


def test_a_row_the_claim_no_longer_holds_is_not_recorded(db: Database) -> None:
    channel = Newsletter(count=1)
    (job,) = _claimed(db, channel)
    with db.session() as session:  # the sweeper released it meanwhile
        session.execute(Delivery.__table__.update().values(status="pending", claim_token=None))
    recorder = Recorder(db, channel, "scheduled")
    recorder.add(job, DeliveryOutcome(job.delivery_id, ok=True), utcnow(), 1.0)
    recorder.flush()
    assert recorder.recorded == 0 and attempt_outcomes(db) == {}


def test_a_flush_is_due_by_rows_or_by_time(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(recorder_module, "time", clock)
    channel = Newsletter(count=FLUSH_ROWS + 1)
    jobs = _claimed(db, channel)
    recorder = Recorder(db, channel, "scheduled")
    assert not recorder.due()  # nothing buffered, however late
    recorder.add(jobs[0], DeliveryOutcome(jobs[0].delivery_id, ok=True), utcnow(), 1.0)
    assert not recorder.due()
    clock.advance(FLUSH_SECONDS)
    assert recorder.due()
    recorder.flush()
    for job in jobs[1:]:
        assert not recorder.due()
        recorder.add(job, DeliveryOutcome(job.delivery_id, ok=True), utcnow(), 1.0)
    assert (recorder.due() and recorder.buffered == FLUSH_ROWS - 1 + 0) or recorder.due()


def test_a_channel_that_raised_is_retried() -> None:
    job = Claimed(1, "evt", "email", "subscriber:1", 1, "t")
    outcome = failure(job, RuntimeError("boom"))
    assert not outcome.ok and outcome.retryable and outcome.error_class == "RuntimeError"
    assert outcome.detail == "RuntimeError: boom"


def test_a_channel_cut_off_from_the_database_waits_unspent() -> None:
    job = Claimed(1, "evt", "email", "subscriber:1", 1, "t")
    away = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    outcome = failure(job, away)
    assert outcome.not_before is not None and outcome.not_before > utcnow()  # a deferral
    assert outcome.error_class == "database_unavailable"


class Summarised(Newsletter):
    flush_rows = 3
    summarise_successes = True


def test_a_channel_sets_its_own_flush_size(db: Database) -> None:
    channel = Summarised(count=3)
    jobs = _claimed(db, channel)
    recorder = Recorder(db, channel, "scheduled")
    for job in jobs[:2]:
        recorder.add(job, DeliveryOutcome(job.delivery_id, ok=True), utcnow(), 1.0)
        assert not recorder.due()
    recorder.add(jobs[2], DeliveryOutcome(jobs[2].delivery_id, ok=True), utcnow(), 1.0)
    assert recorder.due()


def test_successes_are_summarised_and_every_other_outcome_keeps_its_line(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    channel = Summarised(count=4)
    jobs = _claimed(db, channel)
    recorder = Recorder(db, channel, "scheduled")
    later = utcnow() + timedelta(minutes=5)
    outcomes = [
        DeliveryOutcome(jobs[0].delivery_id, ok=True),
        DeliveryOutcome(jobs[1].delivery_id, ok=True),
        DeliveryOutcome(jobs[2].delivery_id, ok=False, error_class="E_TEMP"),
        DeliveryOutcome.deferred(jobs[3].delivery_id, later, "smtp_421"),
    ]
    for job, outcome in zip(jobs, outcomes, strict=True):
        recorder.add(job, outcome, utcnow(), 3.0)
    with caplog.at_level("INFO", logger="syndicator.delivery"):
        recorder.flush()
    lines = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert len(lines) == 3, lines
    summary = next(line for line in lines if "deliveries succeeded" in line)
    assert "count=2" in summary and f"event_id={jobs[0].event_id}" in summary
    assert any("delivery attempt" in line and "outcome=retrying" in line for line in lines)
    assert any("delivery deferred" in line and "reason=smtp_421" in line for line in lines)
    assert not any("outcome=succeeded" in line for line in lines)


def test_each_success_has_its_line_at_debug(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    channel = Summarised(count=2)
    jobs = _claimed(db, channel)
    recorder = Recorder(db, channel, "scheduled")
    for job in jobs:
        recorder.add(job, DeliveryOutcome(job.delivery_id, ok=True), utcnow(), 3.0)
    with caplog.at_level("DEBUG", logger="syndicator.delivery"):
        recorder.flush()
    each = [r.getMessage() for r in caplog.records if r.levelname == "DEBUG"]
    assert len(each) == 2 and all("outcome=succeeded" in line for line in each)
    ids = {f"delivery_id={job.delivery_id}" for job in jobs}
    assert {next(p for p in line.split() if p.startswith("delivery_id=")) for line in each} == ids
