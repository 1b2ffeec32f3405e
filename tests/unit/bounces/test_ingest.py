"""One returned mail in, recorded: the VERP tag found where the mail server put it or
where the report quotes it, only a genuine one used, a mail piped twice kept once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from syndicator.bounces import verp
from syndicator.bounces.ingest import find_verp_tag, ingest_message
from syndicator.bounces.recording import Action, Outcome
from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.models import MailFeedback, Subscriber
from tests.bounce_reports import arf_complaint, auto_reply, dsn
from tests.newsletter_support import add_subscriber

BOUNCES = "bounces@news.example.kr"


@pytest.fixture
def bsettings(settings: Settings) -> Settings:
    return settings.with_(bounce_address=BOUNCES)


def _original(sender: str, to: str, message_id: str = "<e1.1@daegu.go.kr>") -> bytes:
    return (
        f"Return-Path: <{sender}>\r\nFrom: =?utf-8?b?67O064+E7J6Q66OM?= <noreply@daegu.go.kr>\r\n"
        f"To: {to}\r\nSubject: =?utf-8?b?64m07Iqk?=\r\nMessage-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    ).encode()


def _status(db: Database, sid: int) -> tuple[str, str | None]:
    with db.session() as session:
        row = session.get(Subscriber, sid)
        assert row is not None
        return row.status, row.suppressed_kind


def test_a_dsn_to_a_verp_address_suppresses_its_subscriber(
    db: Database, bsettings: Settings
) -> None:
    sid = add_subscriber(db, "gone@example.org")
    sender = verp.envelope_sender(bsettings, 0, sid)
    assert sender is not None
    raw = dsn(sender, "gone@example.org", _original(sender, "gone@example.org"))
    result = ingest_message(raw, "pipe", db, bsettings)
    assert result.ignored is None
    ((feedback, outcome),) = result.outcomes
    assert (feedback.kind, feedback.status, feedback.source) == ("hard_bounce", "5.1.1", "pipe")
    assert (outcome.outcome, outcome.action, outcome.subscriber_id) == (
        Outcome.RECORDED,
        Action.SUPPRESSED,
        sid,
    )
    assert _status(db, sid) == ("suppressed", "hard_bounce")
    # The mail server pipes it again (say, after a failure): kept once.
    again = ingest_message(raw, "pipe", db, bsettings)
    assert [o.outcome for _, o in again.outcomes] == [Outcome.DUPLICATE]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(MailFeedback)) == 1


def test_a_complaint_names_its_subscriber_through_the_returned_return_path(
    db: Database, bsettings: Settings
) -> None:
    sid = add_subscriber(db, "annoyed@example.org")
    sender = verp.envelope_sender(bsettings, 0, sid)
    assert sender is not None
    raw = arf_complaint("annoyed@example.org", _original(sender, "annoyed@example.org"))
    result = ingest_message(raw, "pipe", db, bsettings)
    assert [o.action for _, o in result.outcomes] == [Action.UNSUBSCRIBED]
    assert _status(db, sid) == ("suppressed", "complaint")


def test_a_forged_tag_changes_nothing(db: Database, bsettings: Settings) -> None:
    sid = add_subscriber(db, "target@example.org")
    forged = verp.envelope_sender(bsettings.with_(token_keys=("not-our-key",)), 0, sid)
    assert forged is not None
    raw = dsn(forged, "target@example.org", _original(forged, "target@example.org"))
    result = ingest_message(raw, "pipe", db, bsettings)
    assert [o.outcome for _, o in result.outcomes] == [Outcome.UNMATCHED]
    assert _status(db, sid) == ("active", None)


def test_an_out_of_office_reply_is_ignored(db: Database, bsettings: Settings) -> None:
    sid = add_subscriber(db, "away@example.org")
    sender = verp.envelope_sender(bsettings, 0, sid)
    assert sender is not None
    result = ingest_message(auto_reply(sender), "pipe", db, bsettings)
    assert result.ignored and "automatic reply" in result.ignored
    assert _status(db, sid) == ("active", None)


def test_the_envelope_recipient_is_trusted_over_what_the_mail_quotes(
    bsettings: Settings,
) -> None:
    mine = verp.envelope_sender(bsettings, 1, 2)
    quoted = verp.envelope_sender(bsettings, 3, 4)
    assert mine and quoted
    raw = dsn(quoted, "x@example.org", _original(quoted, "x@example.org"))
    assert find_verp_tag(bsettings, raw, envelope_to=mine) == verp.tag_of_address(bsettings, mine)
    assert find_verp_tag(bsettings, raw) == verp.tag_of_address(bsettings, quoted)


def test_two_genuine_tags_name_no_one(bsettings: Settings) -> None:
    one, other = verp.envelope_sender(bsettings, 1, 2), verp.envelope_sender(bsettings, 3, 4)
    assert one and other
    raw = dsn(one, "x@example.org", _original(other, "x@example.org"))
    assert find_verp_tag(bsettings, raw) is None


def test_without_a_bounce_address_no_tag_is_looked_for(settings: Settings) -> None:
    assert find_verp_tag(settings, b"To: bounces+1-2-abc@news.example.kr\r\n\r\n") is None
