"""The channel seam: what an outcome means for the ledger, a deadline on a fake clock, and
the defaults every channel inherits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndicator.channels import base
from syndicator.channels.base import (
    AsyncChannel,
    BatchContext,
    Channel,
    CoalescingChannel,
    Deadline,
    DeliveryOutcome,
    SyncChannel,
)
from syndicator.ledger.targets import TARGET_REF
from tests.unit.clock import FakeClock


def test_a_permanent_failure_is_never_retried() -> None:
    outcome = DeliveryOutcome.permanent(7, "E_GONE", "the event is gone", "suppressed")
    assert not outcome.ok and not outcome.retryable and outcome.final_status == "suppressed"


def test_a_deferral_spends_nothing_and_says_why() -> None:
    later = datetime(2030, 1, 1, tzinfo=UTC)
    outcome = DeliveryOutcome.deferred(7, later, "partner_cap")
    assert not outcome.ok and outcome.retryable and outcome.not_before == later
    assert outcome.error_class == "partner_cap"


def test_a_deadline_counts_down_on_the_monotonic_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(base, "time", clock)
    deadline = Deadline.after(30)
    assert deadline.remaining() == 30 and not deadline.passed()
    clock.advance(29.5)
    assert deadline.remaining() == pytest.approx(0.5) and not deadline.passed()
    clock.advance(1)
    assert deadline.remaining() == 0.0 and deadline.passed()
    assert BatchContext(deadline).trigger == "scheduled"


def test_the_defaults_every_channel_inherits() -> None:
    assert Channel.target_pattern is TARGET_REF and not Channel.coalesce
    assert CoalescingChannel.coalesce and AsyncChannel.top_up
    assert list(Channel.plan(object.__new__(SyncChannel), None)) == []  # type: ignore[arg-type]
    assert Channel.retry_delays(object.__new__(SyncChannel), "x") == Channel.retry_schedule
    assert AsyncChannel.group(object.__new__(AsyncChannel), "partner:3") == "partner:3"
