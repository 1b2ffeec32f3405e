"""The retry schedule: per attempt, with jitter, never sooner than a clamped Retry-After."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syndicator.delivery.retries import next_attempt_at
from syndicator.store.models import utcnow


@pytest.mark.parametrize("attempt", [1, 2])
def test_retry_schedule_has_jitter_and_honours_retry_after(attempt: int):
    now = utcnow()
    at = next_attempt_at((10, 100), attempt, now)
    assert at is not None
    base = (10, 100)[attempt - 1]
    assert timedelta(seconds=base * 0.8) <= at - now <= timedelta(seconds=base * 1.2)
    later = next_attempt_at((10, 100), attempt, now, retry_after=3600)
    assert later is not None and later - now >= timedelta(seconds=3600)
    assert next_attempt_at((10, 100), 3, now) is None


def test_jitter_spreads_a_herd():
    now = utcnow()
    times = {next_attempt_at((60,), 1, now) for _ in range(50)}
    assert len(times) > 40


def test_retry_after_is_clamped_to_a_day_and_never_negative():
    now = utcnow()
    far = next_attempt_at((10,), 1, now, retry_after=10**9)
    assert far is not None and far - now == timedelta(days=1)
    soon = next_attempt_at((10,), 1, now, retry_after=-50)
    assert soon is not None and soon - now >= timedelta(seconds=8)
