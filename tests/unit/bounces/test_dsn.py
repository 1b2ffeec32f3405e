"""A DSN's per-recipient fields, and the status code in a free-text bounce."""

from __future__ import annotations

import email

import pytest

from syndicator.bounces.dsn import recipient_statuses, status_class, status_in

DSN = b"""From: MAILER-DAEMON@mx.example.kr
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

failed
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.kr

Final-Recipient: rfc822; alias@example.kr
Original-Recipient: rfc822;resident@example.kr
Action: failed
Status: 5.1.1 (unknown user)
Diagnostic-Code: smtp; 550 5.1.1 <alias@example.kr>:
    Recipient address rejected

Final-Recipient: rfc822; <later@example.kr>
Action: delayed (retrying)
Status: 4.4.1

Final-Recipient: rfc822; coded@example.kr
Action: failed
Status: 5.1
Diagnostic-Code: smtp; 552 5.2.2 mailbox full

--b--
"""


def test_each_block_gives_its_recipient_action_status_and_diagnostic() -> None:
    found = recipient_statuses(email.message_from_bytes(DSN))
    assert [(s.recipient, s.action, s.status, s.diagnostic) for s in found] == [
        # The address as we sent it, not the alias it reached.
        (
            "resident@example.kr",
            "failed",
            "5.1.1",
            "550 5.1.1 <alias@example.kr>: Recipient address rejected",
        ),
        ("later@example.kr", "delayed", "4.4.1", None),
        # A malformed Status field: the diagnostic's code stands in.
        ("coded@example.kr", "failed", "5.2.2", "552 5.2.2 mailbox full"),
    ]
    assert dict(found[0].fields)["Original-Recipient"] == "rfc822;resident@example.kr"


def test_a_mail_without_a_delivery_status_part_has_no_blocks() -> None:
    assert recipient_statuses(email.message_from_bytes(b"Subject: hi\n\nhello\n")) == []


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("host mx said: 550 5.1.1 <a@b.kr>... User Unknown", "5.1.1"),
        ("Sorry, I couldn't find any host named x. (#5.1.2)", "5.1.2"),
        ("remote host 192.0.2.32 said: 550 Unknown user", "5.0.0"),
        ("550: : User unknown", "5.0.0"),
        ("452-4.2.2 The email account is over quota", "4.2.2"),
        ("connect to 4.2.2.1[4.2.2.1]: Connection timed out", None),
        ("retry timeout exceeded", None),
        ("Received: Mon, 29 Feb 2016 10:25:21 -0800", None),
    ],
)
def test_the_status_a_free_text_bounce_gives(text: str, status: str | None) -> None:
    assert status_in(text) == status


def test_the_class_of_a_status() -> None:
    assert [status_class(s) for s in ("5.1.1", "4.2.2", "2.0.0", None, "")] == [
        "5",
        "4",
        "2",
        None,
        None,
    ]
