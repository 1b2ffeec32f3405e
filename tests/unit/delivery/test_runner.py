"""The runner with fake channels on a real database: streaming plans, progressive recording,
deadlines, deferrals and async caps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest
from sqlalchemy import event, func, select

from syndicator.channels.base import BatchContext, ChannelContext, Deadline
from syndicator.channels.registry import build_channels
from syndicator.config import Settings
from syndicator.delivery import batch as batch_module
from syndicator.delivery import runner
from syndicator.delivery.recorder import FLUSH_ROWS
from syndicator.delivery.runner import (
    Enqueue,
    plan_event,
    planning_order,
    run_claimed,
    run_due,
)
from syndicator.ledger.chunks import CHUNK
from syndicator.ledger.claims import Claimed, claim, claim_due, due_for_retry
from syndicator.ledger.targets import InvalidTarget
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, OutboxEntry, utcnow
from tests.unit.delivery.fakes import (
    Busy,
    Newsletter,
    Partners,
    an_event,
    attempt_outcomes,
    slow,
    statuses,
)


@contextmanager
def bound_parameters(db: Database) -> Iterator[list[tuple[int, int]]]:
    """(rows, parameters) of every statement sent to the database meanwhile."""
    seen: list[tuple[int, int]] = []

    def count(_c: Any, _cur: Any, _sql: str, params: Any, _ctx: Any, many: bool) -> None:
        rows = list(params) if many else [params]
        seen.append((len(rows), sum(len(p or ()) for p in rows)))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def planned_ids(db: Database, channel: Newsletter | Partners | Busy) -> list[int]:
    record = an_event(db)
    sent: list[Enqueue] = []
    plan_event(db, {channel.name: channel}, record, sent.append)
    return [i for item in sent for i in item.delivery_ids]


@pytest.mark.slow
def test_planning_100000_targets_streams_in_chunks(db: Database):
    record = an_event(db)
    channel = Newsletter(count=100_000)
    sent: list[Enqueue] = []
    with bound_parameters(db) as statements:
        assert plan_event(db, {channel.name: channel}, record, sent.append) == {
            "newsletter": 100_000
        }
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 100_000
        assert session.scalar(select(OutboxEntry.planned_at)) is not None
    ids = [i for item in sent for i in item.delivery_ids]
    assert len(set(ids)) == 100_000 and max(len(item.delivery_ids) for item in sent) <= CHUNK
    # No statement carries more than a chunk of rows, nor more parameters than a chunk of
    # rows has (10 columns): far below SQLite's 32,766 and PostgreSQL's 65,535, for any N.
    assert max(rows for rows, _ in statements) <= CHUNK
    assert max(params for _, params in statements) <= CHUNK * 10

    again: list[Enqueue] = []
    with bound_parameters(db) as statements:
        plan_event(db, {channel.name: channel}, record, again.append)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 100_000
    assert [i for item in again for i in item.delivery_ids] == ids  # the same rows, in order
    assert max(params for _, params in statements) <= CHUNK * 10


def test_a_newsletter_is_planned_after_the_partners_whatever_the_order_given(db: Database):
    class Subscribers(Newsletter):
        audience: ClassVar[bool] = True

    record = an_event(db)
    newsletter, partners = Subscribers(count=2 * CHUNK + 1), Partners(count=3, groups=3)
    sent: list[Enqueue] = []
    plan_event(db, {newsletter.name: newsletter, partners.name: partners}, record, sent.append)
    # The partners' one page is queued first, not behind the newsletter's three.
    assert [item.channel for item in sent] == ["partners", *["newsletter"] * 3]


def test_the_registry_plans_every_channel_before_the_newsletter(settings: Settings):
    channels = build_channels(ChannelContext(settings=settings, db=Database("sqlite://")))
    order = [channel.name for channel in planning_order(channels.values())]
    assert order[-1] == "email" and order[0] == "feeds", order


def test_planning_refuses_a_target_that_is_not_a_reference(db: Database):
    class Leaky(Newsletter):
        def plan(self, event: Any) -> Iterator[str]:
            yield "subscriber:1"
            yield "kim.minsu@example.kr"

    record = an_event(db)
    with pytest.raises(InvalidTarget) as refused:
        plan_event(db, {"newsletter": Leaky()}, record, lambda _: None)
    assert "example.kr" not in str(refused.value) and "#1" in str(refused.value)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.scalar(select(OutboxEntry.planned_at)) is None  # planned again later


def test_outcomes_are_committed_while_the_batch_runs(db: Database):
    recorded_midway: list[int] = []

    def look(job: Claimed) -> None:
        if len(channel.delivered) == 250:
            with db.session() as session:
                done = select(func.count()).where(Delivery.status == "succeeded")
                recorded_midway.append(session.scalar(done) or 0)

    channel = Newsletter(count=300, each=look)
    run_due(db, channel, planned_ids(db, channel))
    assert recorded_midway == [250 - 250 % FLUSH_ROWS]  # every full hundred, at once
    assert statuses(db) == {("succeeded", 1): 300}


def test_the_deadline_hands_back_unreached_rows_without_spending_an_attempt(db: Database):
    channel = Newsletter(count=200, each=slow(0.005))
    ids = planned_ids(db, channel)
    batch = BatchContext(Deadline.after(0.25))
    follow = run_due(db, channel, ids, batch)
    delivered = len(channel.delivered)
    assert 0 < delivered < 200
    assert statuses(db) == {("succeeded", 1): delivered, ("pending", 0): 200 - delivered}
    assert attempt_outcomes(db) == {"succeeded": delivered}
    # The rest is queued again at once: the batch made progress.
    assert follow == [Enqueue("newsletter", tuple(ids[delivered:]))]
    run_due(db, channel, ids)
    assert statuses(db) == {("succeeded", 1): 200}
    assert len(channel.delivered) == 200  # nothing was sent twice


class TimeLimit(Exception):
    """What Celery's SoftTimeLimitExceeded is: an Exception, raised wherever the task is."""


def test_a_soft_time_limit_mid_row_fails_that_row_and_hands_back_the_rest(db: Database):
    batch = BatchContext(Deadline.after(2.0))

    def limit_at_row_50(job: Claimed) -> None:
        if len(channel.delivered) == 50:  # a slow row: the deadline passes, then the limit
            time.sleep(batch.deadline.remaining())
            raise TimeLimit()

    channel = Newsletter(count=120, each=limit_at_row_50)
    run_due(db, channel, planned_ids(db, channel), batch)
    # Delivered rows keep their success; the interrupted one may retry; none is re-sent.
    assert statuses(db) == {("succeeded", 1): 50, ("pending", 1): 1, ("pending", 0): 69}
    assert attempt_outcomes(db) == {"succeeded": 50, "retrying": 1}


class Killed(BaseException):
    """Anything that is not an Exception: the task is being torn down."""


def test_an_interruption_records_what_was_delivered_and_retries_the_row_in_flight(db: Database):
    def die_at_row_150(job: Claimed) -> None:
        if len(channel.delivered) == 150:
            raise Killed()

    channel = Newsletter(count=400, each=die_at_row_150)
    with pytest.raises(Killed):
        run_due(db, channel, planned_ids(db, channel))
    # The row in flight may or may not have reached its subscriber: it is tried again
    # shortly, its attempt spent, rather than waiting for the claim lease.
    assert statuses(db) == {("succeeded", 1): 150, ("pending", 1): 1, ("pending", 0): 249}
    assert attempt_outcomes(db) == {"succeeded": 150}
    with db.session() as session:
        retry_at = session.scalars(
            select(Delivery.next_attempt_at).where(
                Delivery.attempts == 1, Delivery.status == "pending"
            )
        ).one()
    assert retry_at is not None and retry_at > utcnow()


def test_deferred_rows_come_back_after_their_time_without_counting_attempts(db: Database):
    channel = Busy(wait=0.4)
    ids = planned_ids(db, channel)
    run_due(db, channel, ids)
    assert statuses(db) == {("pending", 0): 2} and attempt_outcomes(db) == {}
    assert run_due(db, channel, ids) == [] and channel.delivered == []  # not yet
    with db.session() as session:
        assert due_for_retry(session) == {}
    time.sleep(0.45)
    with db.session() as session:
        # Due again, fresh or not: a deferred row is the sweeper's to bring back.
        assert sorted(due_for_retry(session)[channel.name]) == sorted(ids)
    run_due(db, channel, ids)
    assert channel.delivered == ["partner:1", "partner:2"]
    assert statuses(db) == {("succeeded", 1): 2}
    with db.session() as session:
        assert session.scalars(select(DeliveryAttempt.number)).all() == [1, 1]


@pytest.mark.parametrize(
    ("groups", "binding"),
    [(8, "group_limit"), (300, "concurrency")],  # 8 x 5 < 50 in flight; 300 partners > 50
)
def test_an_async_channel_keeps_every_group_under_its_cap(db: Database, groups: int, binding: str):
    channel = Partners(count=1000, groups=groups, seconds=0.004)
    run_due(db, channel, planned_ids(db, channel))
    assert sorted(channel.delivered) == sorted(f"partner:{n}" for n in range(1000))
    assert statuses(db) == {("succeeded", 1): 1000}
    assert channel.most_per_group <= Partners.group_limit  # never exceeded
    assert channel.most_overall == min(Partners.concurrency, groups * Partners.group_limit)
    if binding == "group_limit":
        assert channel.most_per_group == Partners.group_limit  # and reached


def test_a_hanging_partner_is_cut_off_at_the_deadline_and_starves_no_one(db: Database):
    channel = Partners(count=100, groups=10)
    channel.hang = {"g3"}  # one partner in ten never answers
    run_due(db, channel, planned_ids(db, channel), BatchContext(Deadline.after(0.5)))
    # Every other partner got everything; g3's rows in flight are cancelled, retried later;
    # its rows never started are handed back unspent.
    assert len(channel.delivered) == 90
    assert statuses(db) == {
        ("succeeded", 1): 90,
        ("pending", 1): Partners.group_limit,
        ("pending", 0): 10 - Partners.group_limit,
    }
    with db.session() as session:
        classes = session.scalars(select(DeliveryAttempt.error_class)).all()
    assert sorted(map(str, classes)) == ["E_CANCELLED"] * Partners.group_limit + ["None"] * 90


def test_a_worker_that_lost_its_claim_records_nothing(db: Database):
    channel = Newsletter(count=1)
    ids = planned_ids(db, channel)
    with db.session() as session:
        (mine,) = claim(session, ids)
    with db.session() as session:
        session.execute(
            Delivery.__table__.update().values(claim_token="someone-else")  # lease taken back
        )
    run_claimed(db, channel, [mine])
    assert attempt_outcomes(db) == {}  # the current holder records it, not us
    assert statuses(db) == {("in_progress", 1): 1}


def test_a_topped_up_batch_takes_the_rows_queued_for_later_tasks(db: Database):
    channel = Partners(count=1000, groups=300, seconds=0.004)
    ids = planned_ids(db, channel)
    # The first task's 100 rows; the other 900 wait for tasks still in the queue.
    assert run_due(db, channel, ids[:100], top_up=True) == []
    assert sorted(channel.delivered) == sorted(f"partner:{n}" for n in range(1000))
    assert statuses(db) == {("succeeded", 1): 1000}  # one attempt each, none repeated
    # It never held more than a batch's worth at once, nor broke a cap.
    assert channel.most_overall <= Partners.concurrency
    assert channel.most_per_group <= Partners.group_limit
    # The queued tasks find their rows done and deliver nothing.
    for start in range(100, 1000, 100):
        assert run_due(db, channel, ids[start : start + 100], top_up=True) == []
    assert len(channel.delivered) == 1000 and attempt_outcomes(db) == {"succeeded": 1000}


def test_a_batch_without_top_up_delivers_only_its_own_rows(db: Database):
    channel = Partners(count=300, groups=300)
    ids = planned_ids(db, channel)
    run_due(db, channel, ids[:100])
    assert len(channel.delivered) == 100
    assert statuses(db) == {("succeeded", 1): 100, ("pending", 0): 200}


def test_rows_a_top_up_claimed_but_never_started_go_back_unspent(
    db: Database, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(batch_module, "TOP_UP_MARGIN", 0.0)  # top up even a half-second batch
    taken: list[int] = []

    def counted(
        session: Any, channel: str, limit: int, worker: str | None, token: str | None
    ) -> list[Claimed]:
        more = claim_due(session, channel, limit, worker, token)
        taken.extend(job.delivery_id for job in more)
        return more

    monkeypatch.setattr(runner, "claim_due", counted)
    channel = Partners(count=200, groups=1)  # one partner: 5 rows at a time
    channel.hang = {"g0"}
    ids = planned_ids(db, channel)
    run_due(db, channel, ids[:10], BatchContext(Deadline.after(0.5)), top_up=True)
    # Topped up to what keeps every slot busy, plus a quarter batch waiting.
    held = max(Partners.concurrency, Partners.batch_size // 2) + Partners.batch_size // 4
    assert len(taken) == held - 10
    # The 5 in flight are cancelled (an attempt spent); every other row, its own or one
    # the top-up took, is pending again with no attempt counted.
    counts = statuses(db)
    assert counts[("pending", 1)] == Partners.group_limit
    assert counts[("pending", 0)] == 200 - Partners.group_limit
    assert sum(counts.values()) == 200
