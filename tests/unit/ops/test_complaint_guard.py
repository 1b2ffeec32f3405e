"""Newsletters pause themselves past the complaint limit, over enough mail, as an
operator's pause would; an operator's resume holds until a new complaint arrives."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from syndicator.ops.actions import paused_channels, resume_channel
from syndicator.ops.complaint_guard import (
    GUARD_ACTOR,
    ComplaintLimit,
    after_reports,
    check_complaints,
)
from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, utcnow
from tests.feedback_support import add_delivery, add_feedback, add_newsletter

LIMIT = ComplaintLimit(percent=0.3, min_sent=1000)


def _newsletter(db: Database, sent: int, complaints: int, event_id: str = "evt_a") -> None:
    with db.session() as session:
        add_newsletter(session, event_id, sent=sent)
        for n in range(complaints):
            delivery = add_delivery(session, event_id, n + 1)
            add_feedback(session, delivery, "complaint", subscriber_id=None)


def _complain(db: Database, event_id: str, subscriber: int) -> None:
    with db.session() as session:
        delivery = add_delivery(session, event_id, subscriber)
        add_feedback(session, delivery, "complaint", at=utcnow() + timedelta(seconds=1))


def test_one_complaint_in_ten_mails_pauses_nothing(db: Database) -> None:
    _newsletter(db, sent=10, complaints=1)
    assert check_complaints(db, LIMIT) is None
    assert paused_channels(db) == {}


def test_below_the_limit_nothing_pauses(db: Database) -> None:
    _newsletter(db, sent=1000, complaints=2)  # 0.2 %
    assert check_complaints(db, LIMIT) is None
    assert paused_channels(db) == {}


def test_at_the_limit_email_pauses_with_its_reason_and_an_audit_row(db: Database) -> None:
    _newsletter(db, sent=1000, complaints=3)  # 0.3 %
    reason = check_complaints(db, LIMIT)
    assert reason is not None and "0.30%" in reason and "1,000통 중 3건" in reason
    pause = paused_channels(db)["email"]
    assert (pause.paused_by, pause.reason) == (GUARD_ACTOR, reason)
    assert check_complaints(db, LIMIT) is None, "paused already: nothing more"
    with db.read_session() as session:
        (entry,) = session.scalars(select(AuditEntry))
        assert (entry.who, entry.action, entry.target) == (GUARD_ACTOR, "pause", "channel:email")
        assert entry.detail == reason


def test_a_resume_holds_until_a_new_complaint(db: Database) -> None:
    _newsletter(db, sent=1000, complaints=5)
    assert check_complaints(db, LIMIT)
    assert resume_channel(db, "console:abc:kim", "email")
    assert check_complaints(db, LIMIT) is None, "the operator saw these numbers"
    assert paused_channels(db) == {}
    _complain(db, "evt_a", 99)
    assert check_complaints(db, LIMIT)
    assert "email" in paused_channels(db)


def test_zero_percent_never_pauses(db: Database) -> None:
    _newsletter(db, sent=1000, complaints=500)
    assert check_complaints(db, ComplaintLimit(percent=0, min_sent=1)) is None
    assert paused_channels(db) == {}


def test_after_reports_checks_only_for_a_complaint_and_never_raises(db: Database) -> None:
    _newsletter(db, sent=1000, complaints=5)
    settings = SimpleNamespace(complaint_pause_percent=0.3, complaint_pause_min_sent=1000)
    assert after_reports(db, settings, ["hard_bounce", "soft_bounce"]) is None  # type: ignore[arg-type]
    assert paused_channels(db) == {}
    broken = SimpleNamespace()  # no limits at all: the check fails, the caller does not
    assert after_reports(db, broken, ["complaint"]) is None  # type: ignore[arg-type]
    assert after_reports(db, settings, iter(["complaint"]))  # type: ignore[arg-type]
    assert "email" in paused_channels(db)
