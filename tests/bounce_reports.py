"""Returned mail as real mail servers write it: an RFC 3464 delivery status notification
(Postfix's wording), an RFC 5965 complaint (a feedback loop's), an RFC 3834 auto-reply.
Each returns the bytes a pipe hands `syndicator bounces ingest`."""

from __future__ import annotations

import uuid
from email import policy
from email.message import EmailMessage

__all__ = ["arf_complaint", "auto_reply", "dsn"]


def _headers(original: bytes) -> str:
    return original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def dsn(
    envelope_sender: str,
    recipient: str,
    original: bytes,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "550 5.1.1 <{r}>: Recipient address rejected: User unknown",
) -> bytes:
    """What Postfix returns to ``envelope_sender`` for a message it could not deliver to
    ``recipient``: a multipart/report with the returned message's headers."""
    said = diagnostic.format(r=recipient)
    return _crlf(f"""\
Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {envelope_sender}
Subject: Undelivered Mail Returned to Sender
Message-ID: <{uuid.uuid4().hex}@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: host mx.example.net said: {said}

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Mon,  7 Dec 2026 05:00:00 +0000

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {said}

--B1
Content-Type: text/rfc822-headers

{_headers(original)}

--B1--
""")


def arf_complaint(complainant: str, original: bytes) -> bytes:
    """A feedback loop's report of ``original`` marked as spam. It goes to the feedback
    address, not the VERP one: the tag is only in the returned message."""
    return _crlf(f"""\
From: feedback@arf.mail.example.com
To: fbl@daegu.go.kr
Subject: FW: newsletter
Message-ID: <{uuid.uuid4().hex}@arf.mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received.

--B2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Rcpt-To: {complainant}
Arrival-Date: Mon, 07 Dec 2026 05:00:00 +0000

--B2
Content-Type: message/rfc822

{original.decode("utf-8", "replace")}
--B2--
""")


def auto_reply(to: str, subject: str = "[부재중] 휴가 중입니다") -> bytes:
    message = EmailMessage()
    message["From"] = "resident@example.kr"
    message["To"] = to
    message["Subject"] = subject
    message["Auto-Submitted"] = "auto-replied"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.kr>"
    message.set_content("12월 10일까지 휴가입니다. 돌아와서 답장 드리겠습니다.")
    return message.as_bytes(policy=policy.SMTP)
