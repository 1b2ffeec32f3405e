"""Reading a report's parts: decoded headers, its own text, the message it returns."""

from __future__ import annotations

import base64
import email
from email.header import Header

from syndicator.bounces import mime

RAW = (
    f"From: {Header('네이버 메일', 'euc-kr').encode()} <MAILER-DAEMON@naver.com>\n".encode()
    + f"Subject: {Header('메일 발송 실패', 'utf-8').encode()}\n".encode()
    + b"X-Raw: "
    + "받는 사람".encode("euc-kr")
    + b"""
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain; charset=euc-kr
Content-Transfer-Encoding: base64

"""
    + base64.encodebytes("메일함이 가득 찼습니다".encode("euc-kr"))
    + b"""
--b
Content-Type: message/rfc822

Message-ID: <newsletter-1@news.example.kr>
Subject: returned

the returned body
--b--
"""
)


def test_headers_read_as_text_whatever_their_encoding() -> None:
    msg = email.message_from_bytes(RAW)
    assert mime.header_text(msg, "From") == "네이버 메일 <MAILER-DAEMON@naver.com>"
    assert mime.header_text(msg, "Subject") == "메일 발송 실패"
    assert mime.header_text(msg, "X-Raw") == "받는 사람"  # raw 8-bit EUC-KR
    assert mime.header_text(msg, "X-Missing") == ""


def test_the_human_text_leaves_the_returned_message_out() -> None:
    msg = email.message_from_bytes(RAW)
    text = mime.human_text(msg)
    assert "메일함이 가득 찼습니다" in text
    assert "the returned body" not in text


def test_the_returned_message_and_its_id() -> None:
    msg = email.message_from_bytes(RAW)
    assert mime.message_id(mime.returned_headers(msg)) == "<newsletter-1@news.example.kr>"
    assert mime.message_id(None) is None
    assert mime.message_id_in_text("blah\nMessage-Id: <x@y>\n") == "<x@y>"


def test_clean_makes_text_storable() -> None:
    assert mime.clean("a\x00b \udcff\n c", 10) == "ab ? c"
    assert mime.clean("x" * 20, 10) == "x" * 9 + "…"
