"""Automatic replies are told from bounces, which carry the same markers."""

from __future__ import annotations

import email

import pytest

from syndicator.bounces.autoreplies import auto_reply_reason, from_mail_system


def mail(headers: str) -> email.message.Message:
    return email.message_from_string(headers.strip() + "\n\nbody\n")


@pytest.mark.parametrize(
    "headers",
    [
        "From: a@example.kr\nAuto-Submitted: auto-replied",
        "From: a@example.kr\nX-Autoreply: yes",
        "From: a@example.kr\nPrecedence: auto_reply",
        "From: a@example.kr\nSubject: Out of Office: 뉴스레터",
        "From: a@example.kr\nSubject: Automatic reply: 뉴스레터",
        "From: a@example.kr\nSubject: =?UTF-8?B?W+u2gOyerOykkV0g64m07Iqk66CI7YSw?=",  # [부재중]
        "From: a@example.kr\nSubject: 자동응답: 대구시 소식",
    ],
)
def test_a_persons_automatic_reply_is_recognised(headers: str) -> None:
    msg = mail(headers)
    assert not from_mail_system(msg)
    assert auto_reply_reason(msg) is not None


@pytest.mark.parametrize(
    "headers",
    [
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.kr>\nAuto-Submitted: auto-replied",
        "From: postmaster@example.kr\nSubject: failure notice",
        "From: a@example.kr\nX-Failed-Recipients: b@example.kr\nAuto-Submitted: auto-replied",
        "From: x@example.kr\nContent-Type: multipart/report; boundary=b",
    ],
)
def test_a_mail_systems_message_is_not_taken_for_one(headers: str) -> None:
    assert from_mail_system(mail(headers))


def test_an_ordinary_reply_is_no_automatic_one() -> None:
    msg = mail("From: a@example.kr\nSubject: Re: 대구시 뉴스레터\nAuto-Submitted: no")
    assert auto_reply_reason(msg) is None
