"""Bounce and complaint rates: per newsletter through its deliveries, and over the
newsletters last sent in 7 days; the messages sent counted in the recording transaction."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from syndicator.mail.rates import count_sends, newsletter_rates, window_rates
from syndicator.store.db import Database
from syndicator.store.models import Event, NewsletterSend, utcnow
from tests.feedback_support import add_delivery, add_feedback, add_newsletter

OUTCOMES = [
    ("succeeded", None),
    ("uncertain", "E_SMTP_UNCERTAIN"),
    ("suppressed", "E_SMTP_MAILBOX_GONE"),  # refused for the mailbox in the session
    ("retrying", "E_SMTP_TEMPORARY"),
    ("failed", "E_SMTP_POLICY"),
    ("suppressed", "E_UNSUBSCRIBED"),  # planned, then not mailed
]
SENT = {"succeeded", "E_SMTP_UNCERTAIN", "E_SMTP_MAILBOX_GONE"}


def _sends(db: Database) -> dict[str, NewsletterSend]:
    with db.read_session() as session:
        rows = list(session.scalars(select(NewsletterSend)))
        session.expunge_all()
    return {row.event_id: row for row in rows}


def test_only_messages_handed_to_the_server_count_as_sent(db: Database) -> None:
    with db.session() as session:
        add_newsletter(session, "evt_a")
        add_newsletter(session, "evt_b")
        count_sends(session, [("evt_a", o, e) for o, e in OUTCOMES])
        count_sends(session, [("evt_b", "retrying", "E_SMTP_TEMPORARY")])
    assert {k: v.sent for k, v in _sends(db).items()} == {"evt_a": 3}


def test_counts_add_up_and_the_first_send_stays(db: Database) -> None:
    with db.session() as session:
        add_newsletter(session, "evt_a")
        count_sends(session, [("evt_a", "succeeded", None)] * 2)
    first = _sends(db)["evt_a"]
    with db.session() as session:
        count_sends(session, [("evt_a", "succeeded", None)] * 5)
    later = _sends(db)["evt_a"]
    assert later.sent == 7
    assert later.first_sent_at == first.first_sent_at
    assert later.last_sent_at >= first.last_sent_at


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(range(len(OUTCOMES))), max_size=40))
def test_sent_is_the_count_of_sent_outcomes_whatever_the_mix(
    db: Database, picks: list[int]
) -> None:
    with db.session() as session:
        session.execute(delete(NewsletterSend))
        session.execute(delete(Event))
        add_newsletter(session, "evt_mix")
        count_sends(session, [("evt_mix", *OUTCOMES[i]) for i in picks])
    expected = sum(1 for i in picks if (OUTCOMES[i][1] or OUTCOMES[i][0]) in SENT)
    sends = _sends(db)
    assert (sends["evt_mix"].sent if "evt_mix" in sends else 0) == expected


def test_a_newsletters_rates_come_from_its_own_deliveries(db: Database) -> None:
    with db.session() as session:
        add_newsletter(session, "evt_a", sent=200)
        add_newsletter(session, "evt_b", sent=100)
        a = [add_delivery(session, "evt_a", n) for n in range(1, 6)]
        b = add_delivery(session, "evt_b", 1)
        add_feedback(session, a[0], "hard_bounce", status="5.1.1")
        add_feedback(session, a[1], "soft_bounce")
        add_feedback(session, a[1], "soft_bounce")  # the same message twice: once
        add_feedback(session, a[2], "complaint")
        add_feedback(session, a[3], "complaint")
        add_feedback(session, b, "complaint")
        add_feedback(session, None, "complaint")  # matched to no delivery: no newsletter's
    with db.read_session() as session:
        first, second, none = newsletter_rates(session, ["evt_a", "evt_b", "evt_none"])
    assert first.counts == {"hard_bounce": 1, "soft_bounce": 1, "complaint": 2}
    assert first.rate("complaint") == 0.01 and first.rate("hard_bounce") == 0.005
    assert second.counts["complaint"] == 1 and second.rate("complaint") == 0.01
    assert none.sent == 0 and none.rate("complaint") == 0.0


def test_the_window_holds_the_newsletters_of_the_last_seven_days(db: Database) -> None:
    now = utcnow()
    with db.session() as session:
        add_newsletter(session, "evt_old", sent=1000, at=now - timedelta(days=8))
        add_newsletter(session, "evt_week", sent=1000, at=now - timedelta(days=6))
        add_newsletter(session, "evt_today", sent=3000, at=now - timedelta(hours=1))
        old = add_delivery(session, "evt_old", 1)
        week = add_delivery(session, "evt_week", 1)
        today = add_delivery(session, "evt_today", 1)
        add_feedback(session, old, "complaint", at=now - timedelta(days=7, hours=23))
        # Reported today about a mail of six days ago: it counts against that newsletter.
        add_feedback(session, week, "complaint", at=now - timedelta(minutes=5))
        add_feedback(session, today, "hard_bounce", at=now - timedelta(minutes=30))
    with db.read_session() as session:
        window = window_rates(session, now)
    assert [n.event_id for n in window.newsletters] == ["evt_today", "evt_week"]
    assert window.sent == 4000
    assert window.counts == {"hard_bounce": 1, "soft_bounce": 0, "complaint": 1}
    assert window.rate("complaint") == 1 / 4000
    assert window.latest is not None and window.latest.event_id == "evt_today"


def test_an_empty_window_has_no_rate(db: Database) -> None:
    with db.read_session() as session:
        window = window_rates(session)
    assert window.sent == 0 and window.rate("complaint") == 0.0 and window.latest is None
