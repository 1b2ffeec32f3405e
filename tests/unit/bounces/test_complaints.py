"""Feedback-loop reports: RFC 5965 and Microsoft's JMRP."""

from __future__ import annotations

import email
from pathlib import Path

from syndicator.bounces import mime
from syndicator.bounces.complaints import Complaint, read_complaint

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"


def complaint_in(name: str) -> Complaint | None:
    msg = email.message_from_bytes((CORPUS / f"{name}.eml").read_bytes())
    return read_complaint(msg, mime.returned_headers(msg))


def test_an_arf_report_gives_its_type_recipient_and_sender() -> None:
    found = complaint_in("arf-abuse-verp-sender")
    assert found is not None
    assert found.feedback_type == "abuse"
    assert found.recipient == "complaining-resident@yahoo.co.kr"
    assert found.original_mail_from == "bounces+2f-1c-a3k7q2m9x4v6b8n5@news.example.kr"
    assert found.user_agent == "Yahoo!-Mail-Feedback/2.0"
    assert ("Source-IP", "192.0.2.25") in found.fields


def test_a_redacted_rcpt_to_leaves_the_returned_messages_to() -> None:
    found = complaint_in("arf-yahoo-abuse")
    assert found is not None
    assert found.recipient == "this-local-part-does-not-exist-on-yahoo@yahoo.com"


def test_microsofts_jmrp_names_the_recipient_in_the_returned_message() -> None:
    found = complaint_in("jmrp-microsoft-complaint")
    assert found is not None
    assert (found.feedback_type, found.recipient) == ("abuse", "kijitora@example.com")


def test_other_feedback_types_are_read_as_such() -> None:
    found = complaint_in("arf-auth-failure")
    assert found is not None and found.feedback_type == "auth-failure"


def test_a_bounce_is_no_complaint() -> None:
    assert complaint_in("naver-no-such-user") is None
