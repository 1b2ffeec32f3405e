"""How attempts move a partner's health (pure part)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndicator.partners.health import DISABLE_AFTER, Observation, next_state

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
