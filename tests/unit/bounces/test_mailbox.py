"""The bounce mailbox's URL and where a read mail goes (the IMAP side runs against a real
Dovecot in tests/integration/test_bounce_mailbox.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from syndicator.bounces.mailbox import parse_mailbox_url, verdict_of


def test_a_mailbox_url_with_encoded_credentials_and_a_folder() -> None:
    mailbox = parse_mailbox_url("imaps://bounce%2Bs:p%40ss%20%ED%95%9C@mail.daegu.go.kr/Bounces/In")
    assert (mailbox.user, mailbox.password, mailbox.host, mailbox.port) == (
        "bounce+s",
        "p@ss 한",
        "mail.daegu.go.kr",
        993,
    )
    assert (mailbox.folder, mailbox.tls) == ("Bounces/In", True)
    assert "p@ss" not in repr(mailbox)


def test_defaults_inbox_and_the_plain_port() -> None:
    mailbox = parse_mailbox_url("imap://u:p@127.0.0.1")
    assert (mailbox.folder, mailbox.port, mailbox.tls) == ("INBOX", 143, False)
    assert parse_mailbox_url("imaps://u:p@h:1993/").port == 1993


@pytest.mark.parametrize(
    "url", ["https://u:p@h/INBOX", "imaps://h/INBOX", "imaps://u@h/INBOX", "imaps:///INBOX"]
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_mailbox_url(url)


@dataclass
class _Result:
    ignored: str | None


@pytest.mark.parametrize(
    ("ignored", "verdict"),
    [
        (None, "processed"),
        ("automatic reply (Auto-Submitted: auto-replied)", "processed"),
        ("delayed: the sending server is still trying", "processed"),
        ("delivery report without a failure (action: delivered)", "processed"),
        ("feedback report of type not-spam", "processed"),
        ("no bounce or complaint found", "unhandled"),
        ("not a mail: no headers", "unhandled"),
        ("no recipient found in the report", "unhandled"),
        ("something new", "unhandled"),
    ],
)
def test_what_was_read_is_processed_and_the_rest_unhandled(
    ignored: str | None, verdict: str
) -> None:
    assert verdict_of(_Result(ignored)) == verdict
