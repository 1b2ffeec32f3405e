"""Every SMTP failure class becomes one ledger outcome, the same for every mail channel."""

from __future__ import annotations

import pytest

from syndicator.channels.smtp_outcomes import ERROR_CLASSES, accepted, refused
from syndicator.mail.transport import Failure, SendError, SmtpReply, classify

ENDPOINT, MESSAGE_ID = "smtp://mail.example:25", "<m1@press.example.kr>"


@pytest.mark.parametrize(
    ("text", "code", "error_class", "retryable", "final"),
    [
        ("4.3.0 try again", 451, "E_SMTP_TEMPORARY", True, None),
        ("5.1.1 no such user", 550, "E_SMTP_MAILBOX_GONE", False, "suppressed"),
        ("5.7.1 rejected by policy", 554, "E_SMTP_POLICY", False, None),
        ("5.3.4 too big", 552, "E_SMTP_PERMANENT", False, None),
    ],
)
def test_a_refusal_reads_as_its_class(
    text: str, code: int, error_class: str, retryable: bool, final: str | None
) -> None:
    reply = SmtpReply(code, text)
    outcome = refused(9, SendError(classify(reply), reply), ENDPOINT, MESSAGE_ID, 12.5)
    assert (outcome.ok, outcome.retryable, outcome.error_class) == (False, retryable, error_class)
    assert (outcome.status_code, outcome.response, outcome.final_status) == (code, text, final)
    assert (outcome.endpoint, outcome.message_id, outcome.duration_ms) == (
        ENDPOINT,
        MESSAGE_ID,
        12.5,
    )
    assert outcome.detail == f"{code} {text}"


def test_a_drop_after_the_handover_is_uncertain_and_never_retried() -> None:
    error = SendError(Failure.UNCERTAIN, SmtpReply(0, "ConnectionResetError"))
    outcome = refused(9, error, ENDPOINT, MESSAGE_ID, 1.0)
    assert (outcome.retryable, outcome.final_status) == (False, "uncertain")
    assert outcome.error_class == "E_SMTP_UNCERTAIN" and outcome.status_code == 0


def test_every_failure_has_a_class() -> None:
    assert set(ERROR_CLASSES) == set(Failure)


def test_an_acceptance_keeps_the_reply_and_the_message_id() -> None:
    outcome = accepted(9, SmtpReply(250, "2.0.0 Ok: queued"), ENDPOINT, MESSAGE_ID, 3.0)
    assert outcome.ok and outcome.error_class is None
    assert (outcome.status_code, outcome.response, outcome.message_id) == (
        250,
        "2.0.0 Ok: queued",
        MESSAGE_ID,
    )
