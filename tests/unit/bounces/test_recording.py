"""What a bounce or complaint does to its subscriber, on a real database: matched by a
signed VERP tag (or our Message-ID plus the recipient), kept once, and acted on by kind."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from syndicator.bounces import verp
from syndicator.bounces.feedback import Feedback
from syndicator.bounces.recording import Action, Outcome, record_feedback
from syndicator.config import Settings
from syndicator.ledger.targets import delivery_key
from syndicator.store.db import Database
from syndicator.store.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    MailFeedback,
    Subscriber,
    utcnow,
)

ADDRESS = "resident@example.kr"


@pytest.fixture
def bsettings(settings: Settings) -> Settings:
    return settings.with_(bounce_address="bounces@news.example.kr")


def _subscriber(db: Database, email: str = ADDRESS, status: str = "active") -> int:
    with db.session() as session:
        row = Subscriber(email=email, status=status, mode="immediate")
        session.add(row)
        session.flush()
        return row.id


def _sent(db: Database, subscriber_id: int, event_id: str, at: datetime | None = None) -> int:
    """A newsletter the server took for ``subscriber_id``: its delivery's id."""
    at = at or utcnow()
    target = f"subscriber:{subscriber_id}"
    with db.session() as session:
        if session.get(Event, event_id) is None:
            session.add(
                Event(
                    id=event_id,
                    webhook_id=f"w-{event_id}",
                    type="release.published",
                    release_id=1,
                    source="hook",
                    outcome="applied",
                    payload={},
                )
            )
            session.flush()
        delivery = Delivery(
            key=delivery_key(event_id, "email", target),
            event_id=event_id,
            channel="email",
            target=target,
            status="succeeded",
            attempts=1,
        )
        session.add(delivery)
        session.flush()
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                number=1,
                started_at=at,
                duration_ms=1.0,
                outcome="succeeded",
                status_code=250,
                message_id=f"<{event_id}.{subscriber_id}@daegu.go.kr>",
            )
        )
        return delivery.id


def _record(db: Database, settings: Settings, feedback: Feedback):  # type: ignore[no-untyped-def]
    with db.session() as session:
        return record_feedback(session, feedback, settings)


def _row(db: Database, subscriber_id: int) -> Subscriber:
    with db.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        session.expunge(row)
        return row


def _kept(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(MailFeedback)) or 0


def _tagged(
    settings: Settings,
    delivery_id: int,
    subscriber_id: int,
    kind: str = "hard_bounce",
    status: str | None = "5.1.1",
    key: str | None = None,
) -> Feedback:
    return Feedback(
        kind=kind,
        source="pipe",
        recipient=ADDRESS,  # type: ignore[arg-type]
        verp_tag=verp.make_tag(settings, delivery_id, subscriber_id),
        status=status,
        diagnostic="550 5.1.1 user unknown",
        evidence="Final-Recipient: rfc822;resident@example.kr",
        dedupe_key=key,
    )


def test_a_hard_bounce_suppresses_at_once_and_is_kept(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    result = _record(db, bsettings, _tagged(bsettings, did, sid, key="r1"))
    assert (result.outcome, result.action) == (Outcome.RECORDED, Action.SUPPRESSED)
    assert (result.subscriber_id, result.delivery_id) == (sid, did)
    row = _row(db, sid)
    assert (row.status, row.suppressed_kind) == ("suppressed", "hard_bounce")
    assert row.suppressed_at is not None and "5.1.1" in (row.suppressed_reason or "")
    with db.session() as session:
        kept = session.scalars(select(MailFeedback)).one()
        assert (kept.kind, kept.status, kept.delivery_id, kept.source) == (
            "hard_bounce",
            "5.1.1",
            did,
            "pipe",
        )
        assert kept.evidence and "Final-Recipient" in kept.evidence


def test_the_same_report_twice_is_kept_once(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    feedback = _tagged(bsettings, did, sid, kind="soft_bounce", status="4.2.2", key="same")
    assert _record(db, bsettings, feedback).outcome is Outcome.RECORDED
    assert _record(db, bsettings, feedback).outcome is Outcome.DUPLICATE
    assert _kept(db) == 1


def test_a_forged_tag_suppresses_nobody(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    forged = bsettings.with_(token_keys=("an-attackers-key",))
    result = _record(db, bsettings, _tagged(forged, did, sid))
    assert result.outcome is Outcome.UNMATCHED
    assert _row(db, sid).status == "active" and _kept(db) == 0


def test_a_tag_not_ours_leaves_the_message_id_to_match(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    report = Feedback(
        kind="hard_bounce",
        source="pipe",
        recipient=ADDRESS,
        status="5.1.1",
        verp_tag="news",
        answered_message_id=f"<e1.{sid}@daegu.go.kr>",
    )
    assert _record(db, bsettings, report).delivery_id == did
    assert _row(db, sid).status == "suppressed"


def test_a_policy_refusal_is_kept_without_suppressing(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    result = _record(db, bsettings, _tagged(bsettings, did, sid, status="5.7.1"))
    assert (result.outcome, result.action) == (Outcome.RECORDED, Action.NONE)
    assert _row(db, sid).status == "active"


def test_a_complaint_unsubscribes_and_suppresses(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    version = _row(db, sid).links_version
    result = _record(db, bsettings, _tagged(bsettings, did, sid, kind="complaint", status=None))
    assert result.action is Action.UNSUBSCRIBED
    row = _row(db, sid)
    assert (row.status, row.suppressed_kind) == ("suppressed", "complaint")
    assert row.unsubscribed_at is not None and row.links_version == version + 1


def test_three_soft_bounces_suppress(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    start = utcnow() - timedelta(days=3)
    actions = []
    for n in range(3):
        did = _sent(db, sid, f"e{n}", start + timedelta(hours=n))
        fb = _tagged(bsettings, did, sid, kind="soft_bounce", status="4.2.2", key=f"k{n}")
        actions.append(_record(db, bsettings, fb).action)
    assert actions == [Action.NONE, Action.NONE, Action.SUPPRESSED]
    assert _row(db, sid).suppressed_kind == "soft_bounce"


def test_one_message_bouncing_thrice_counts_once(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    for n in range(3):
        fb = _tagged(bsettings, did, sid, kind="soft_bounce", status="4.2.2", key=f"k{n}")
        assert _record(db, bsettings, fb).action is Action.NONE
    assert _row(db, sid).status == "active"


def test_a_message_that_arrived_in_between_resets_the_count(
    db: Database, bsettings: Settings
) -> None:
    sid = _subscriber(db)
    start = utcnow() - timedelta(days=3)
    first, second = _sent(db, sid, "e1", start), _sent(db, sid, "e2", start + timedelta(hours=1))
    _sent(db, sid, "e3", start + timedelta(hours=2))  # nothing came back: it arrived
    fourth = _sent(db, sid, "e4", start + timedelta(hours=3))
    for n, did in enumerate((first, second, fourth)):
        fb = _tagged(bsettings, did, sid, kind="soft_bounce", status="4.2.2", key=f"k{n}")
        assert _record(db, bsettings, fb).action is Action.NONE
    assert _row(db, sid).status == "active"


def test_old_soft_bounces_fall_out_of_the_window(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    for n in range(2):
        did = _sent(db, sid, f"e{n}")
        fb = _tagged(bsettings, did, sid, kind="soft_bounce", status="4.2.2", key=f"k{n}")
        _record(db, bsettings, fb)
    with db.session() as session:
        for row in session.scalars(select(MailFeedback)):
            row.received_at = utcnow() - timedelta(days=bsettings.soft_bounce_days + 1)
    did = _sent(db, sid, "e9")
    fb = _tagged(bsettings, did, sid, kind="soft_bounce", status="4.2.2", key="k9")
    assert _record(db, bsettings, fb).action is Action.NONE


def test_without_verp_our_message_id_and_the_recipient_match(
    db: Database, settings: Settings
) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    mid = f"<e1.{sid}@daegu.go.kr>"
    report = Feedback(
        kind="hard_bounce",
        source="pipe",
        recipient="rfc822; Resident@Example.KR",
        status="5.1.1",
        answered_message_id=mid,
    )
    result = _record(db, settings, report)
    assert (result.outcome, result.delivery_id) == (Outcome.RECORDED, did)
    assert _row(db, sid).status == "suppressed"


@pytest.mark.parametrize(
    "recipient, mid",
    [
        ("someone-else@example.kr", "<e1.{sid}@daegu.go.kr>"),  # not the address mailed
        (ADDRESS, "<e2.{sid}@daegu.go.kr>"),  # never sent
        (ADDRESS, "<e1.{sid}@elsewhere.example>"),  # not our Message-ID
        (None, "<e1.{sid}@daegu.go.kr>"),  # names no recipient
    ],
)
def test_without_verp_anything_less_matches_nobody(
    db: Database, settings: Settings, recipient: str | None, mid: str
) -> None:
    sid = _subscriber(db)
    _sent(db, sid, "e1")
    report = Feedback(
        kind="hard_bounce",
        source="pipe",
        recipient=recipient,
        status="5.1.1",
        answered_message_id=mid.format(sid=sid),
    )
    assert _record(db, settings, report).outcome is Outcome.UNMATCHED
    assert _row(db, sid).status == "active"


def test_a_mailed_report_naming_a_recipient_alone_matches_nobody(
    db: Database, settings: Settings
) -> None:
    sid = _subscriber(db)
    report = Feedback(kind="complaint", source="imap", recipient=ADDRESS)
    assert _record(db, settings, report).outcome is Outcome.UNMATCHED
    assert _row(db, sid).status == "active"


def test_a_signed_provider_event_matches_by_recipient(db: Database, settings: Settings) -> None:
    sid = _subscriber(db)
    report = Feedback(kind="complaint", source="ses", recipient=ADDRESS.upper(), dedupe_key="x")
    result = _record(db, settings, report)
    assert (result.outcome, result.subscriber_id, result.delivery_id) == (
        Outcome.RECORDED,
        sid,
        None,
    )
    assert _row(db, sid).suppressed_kind == "complaint"


def test_an_erased_subscriber_is_nobody(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    with db.session() as session:
        row = session.get(Subscriber, sid)
        assert row is not None
        row.status, row.email = "erased", None
    assert _record(db, bsettings, _tagged(bsettings, did, sid)).outcome is Outcome.UNMATCHED
    assert _kept(db) == 0


def test_a_complaint_after_a_bounce_says_complaint(db: Database, bsettings: Settings) -> None:
    sid = _subscriber(db)
    did = _sent(db, sid, "e1")
    _record(db, bsettings, _tagged(bsettings, did, sid, key="a"))
    result = _record(db, bsettings, _tagged(bsettings, did, sid, kind="complaint", key="b"))
    assert result.outcome is Outcome.RECORDED
    assert _row(db, sid).suppressed_kind == "complaint"


@pytest.mark.slow
@hsettings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fates=st.lists(st.booleans(), min_size=1, max_size=8))
def test_soft_bounces_suppress_after_a_run_with_nothing_arriving_between(
    db: Database, bsettings: Settings, fates: list[bool]
) -> None:
    """``fates``: one message each, an hour apart; True bounced softly (its report comes
    back in order), False arrived. Suppressed exactly when some run of consecutive
    bounced messages reaches the limit."""
    sid = _subscriber(db, email=f"r{uuid.uuid4().hex}@example.kr")
    start = utcnow() - timedelta(days=2)
    sent = [_sent(db, sid, f"e-{sid}-{n}", start + timedelta(hours=n)) for n in range(len(fates))]
    for n, (did, bounced) in enumerate(zip(sent, fates, strict=True)):
        if bounced:
            fb = _tagged(bsettings, did, sid, kind="soft_bounce", status="4.2.2", key=f"{sid}-{n}")
            _record(db, bsettings, fb)
    longest = run = 0
    for bounced in fates:
        run = run + 1 if bounced else 0
        longest = max(longest, run)
    expected = "suppressed" if longest >= bsettings.soft_bounce_limit else "active"
    assert _row(db, sid).status == expected
