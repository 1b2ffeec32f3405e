"""A batch the database went away under: its worker keeps the outcomes and the rows it
could not record or hand back, and settles them once the database answers again, so no
outcome is lost, nothing is sent twice and nothing waits for the claim lease.

The outage is the database refusing every statement from this process's engine (what a
stopped server or a lock held past the busy timeout look like to it), switched on mid-batch
and off again; everything else is the real runner on a real database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event
from sqlalchemy.exc import OperationalError

from syndicator.delivery import runner, settlements
from syndicator.delivery.runner import plan_event, run_due
from syndicator.ledger.claims import Claimed
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt
from tests.unit.delivery.fakes import Newsletter, an_event, attempt_outcomes, statuses


class Outage:
    """Every statement this engine sends fails while ``down`` is set."""

    def __init__(self) -> None:
        self.down = False

    def refuse(self, *_args: Any) -> None:
        if self.down:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))


@contextmanager
def outage(db: Database) -> Iterator[Outage]:
    fault = Outage()
    event.listen(db.engine, "before_cursor_execute", fault.refuse)
    try:
        yield fault
    finally:
        event.remove(db.engine, "before_cursor_execute", fault.refuse)


@pytest.fixture(autouse=True)
def quick_give_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The batch waits this long for the database before keeping what it holds.
    monkeypatch.setattr(runner, "SETTLE_RETRY_SECONDS", 0.2)
    yield
    settlements._kept.clear()


_releases = itertools.count(1)


def _planned(db: Database, channel: Newsletter) -> list[int]:
    sent: list[int] = []
    record = an_event(db, next(_releases))
    plan_event(db, {channel.name: channel}, record, lambda e: sent.extend(e.delivery_ids))
    return sent


def _run_with_outage_at(db: Database, rows: int, down_at: int) -> tuple[Newsletter, list[int]]:
    def go_down(job: Claimed) -> None:
        if len(channel.delivered) == down_at:
            fault.down = True

    channel = Newsletter(count=rows, each=go_down)
    ids = _planned(db, channel)
    with outage(db) as fault:
        with pytest.raises(OperationalError):
            run_due(db, channel, ids)
        assert settlements.kept() == 1, "the worker keeps what it could not write"
        assert settlements.settle_kept() == 0, "nothing is written while the database is away"
        fault.down = False
    return channel, ids


def test_a_batch_the_database_left_is_settled_when_it_answers_again(db: Database):
    channel, ids = _run_with_outage_at(db, rows=300, down_at=150)
    sent = len(channel.delivered)
    # Meanwhile the rows stay claimed by this live worker: nobody else takes them.
    assert statuses(db)[("in_progress", 1)] == 300 - 100  # the first hundred were flushed
    assert settlements.settle_kept() == 1
    assert settlements.kept() == 0
    # Every outcome received is recorded, and the rows never started are due now with
    # their attempt refunded: nothing waits for the claim lease.
    assert statuses(db) == {("succeeded", 1): sent, ("pending", 0): 300 - sent}
    assert attempt_outcomes(db) == {"succeeded": sent}
    run_due(db, channel, ids)
    assert statuses(db) == {("succeeded", 1): 300}
    assert sorted(channel.delivered) == sorted(f"subscriber:{n}" for n in range(300))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.integers(1, 250), fraction=st.floats(0, 1))
def test_whenever_the_outage_starts_nothing_is_lost_or_left_claimed(
    db: Database, rows: int, fraction: float
):
    with db.session() as session:
        session.execute(delete(DeliveryAttempt))
        session.execute(delete(Delivery))
    down_at = min(rows - 1, int(rows * fraction))
    channel, ids = _run_with_outage_at(db, rows, down_at)
    assert settlements.settle_kept() == 1
    run_due(db, channel, ids)
    # Each row sent exactly once: every outcome was kept, and recorded once.
    assert sorted(channel.delivered) == sorted(f"subscriber:{n}" for n in range(rows))
    assert statuses(db) == {("succeeded", 1): rows}
