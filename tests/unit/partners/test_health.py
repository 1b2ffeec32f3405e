"""How attempts move a partner's health: the pure rule, and a batch observed in the DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from syndicator.partners.health import DISABLE_AFTER, Observation, next_state, observe
from syndicator.store.db import Database
from syndicator.store.models import Partner

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def seen(at: datetime, ok: bool, status: int | None = 500) -> Observation:
    return Observation(1, at, ok, 200 if ok else status, None if ok else "http")


def test_the_first_failure_starts_the_clock_and_a_success_stops_it():
    assert next_state(None, [seen(T0, False)]) == (T0, None)
    assert next_state(T0, [seen(T0 + timedelta(hours=1), False)]) == (T0, None)
    assert next_state(T0, [seen(T0 + timedelta(hours=1), True)]) == (None, None)


def test_five_days_of_only_failures_disables():
    since, reason = next_state(T0, [seen(T0 + DISABLE_AFTER, False)])
    assert since == T0 and reason is not None and "only failures since" in reason


def test_a_success_inside_the_batch_restarts_the_clock():
    attempts = [seen(T0 + DISABLE_AFTER, True), seen(T0 + DISABLE_AFTER, False)]
    assert next_state(T0, attempts) == (T0 + DISABLE_AFTER, None)


def test_gone_disables_at_once():
    _, reason = next_state(None, [seen(T0, False, status=410)])
    assert reason is not None and "410" in reason


def test_observing_a_batch_moves_only_what_changes(db: Database):
    with db.session() as session:
        for n in range(1, 5):
            session.add(
                Partner(
                    id=n,
                    name=f"p{n}",
                    url=f"https://p{n}.example/hooks",
                    event_types=None,
                    headers={},
                    departments=[],
                    categories=[],
                    failing_since=T0 if n in (1, 2) else None,
                )
            )
    later = T0 + timedelta(hours=1)
    batch = [
        Observation(1, later, True, 200, None),  # failing, now answers: cleared
        Observation(2, later, False, 500, "http"),  # still failing: the clock runs on
        Observation(3, later, False, 410, "http"),  # gone: disabled
        Observation(4, later, True, 200, None),  # healthy, stays so
        Observation(4, later, True, 200, None),
        Observation(2, later, False, 0, "partner-disabled"),  # never contacted: no say
    ]
    with db.session() as session:
        disabled = observe(session, batch)
    assert [d.partner_id for d in disabled] == [3]
    with db.session() as session:
        rows = {p.id: p for p in session.scalars(select(Partner))}
    assert rows[1].failing_since is None and rows[1].state == "active"
    assert rows[2].failing_since is not None and rows[2].state == "active"
    assert rows[3].state == "disabled" and "410" in (rows[3].disabled_reason or "")
    assert rows[4].failing_since is None and rows[4].state == "active"
