"""The transport against a real SMTP server (aiosmtpd), and the ``.eml`` outbox."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.events.schema import CmsEvent
from syndicator.mail.newsletter import personalise, release_newsletter
from syndicator.mail.transport import (
    Failure,
    OutboxTransport,
    SendError,
    SmtpReply,
    SmtpTransport,
    classify,
    open_transport,
)
from tests.factories import make_event
from tests.mail_server import MailServer, running_mail_server
from tests.unit.mail.support import assert_wire_format, links, mail_settings, parse


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


def a_message(tmp_path: Path, to: str) -> bytes:
    settings = mail_settings(tmp_path)
    payload = CmsEvent.model_validate(make_event(1, summary="가" * 3000)).model_dump(mode="json")
    raw, _ = personalise(
        settings,
        release_newsletter(settings, "release.published", payload),
        to,
        links(settings, 1),
        "m1",
    )
    return raw


def test_sends_crlf_over_one_reused_connection(tmp_path: Path, smtp: MailServer) -> None:
    transport = SmtpTransport.from_url(smtp.url)
    try:
        for n in range(3):
            reply = transport.send(
                "보도자료 <noreply@daegu.go.kr>",
                f"r{n}@example.org",
                a_message(tmp_path, f"r{n}@example.org"),
            )
            assert reply.code == 250 and "queued" in reply.text
        first = transport._conn
        transport.send(
            "noreply@daegu.go.kr", "r9@example.org", a_message(tmp_path, "r9@example.org")
        )
        assert transport._conn is first, "the connection is reused"
    finally:
        transport.close()
    assert [r.recipients for r in smtp.received] == [(f"r{n}@example.org",) for n in (0, 1, 2, 9)]
    for received in smtp.received:
        assert received.sender == "noreply@daegu.go.kr"
        assert_wire_format(received.raw)
        assert parse(received.raw)["Subject"].startswith("[대구광역시 보도자료]")


def test_leading_dots_survive(tmp_path: Path, smtp: MailServer) -> None:
    transport = SmtpTransport.from_url(smtp.url)
    body = b"Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n"
    transport.send("a@daegu.go.kr", "b@example.org", body)
    transport.close()
    assert smtp.received[0].raw.endswith(b".hidden\r\n..two\r\n.\r\nend\r\n")


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        ("451 4.3.0 try again later", Failure.TEMPORARY),
        ("452 4.2.2 mailbox full", Failure.TEMPORARY),
        ("550 5.1.1 no such user", Failure.MAILBOX_GONE),
        ("554 5.7.1 rejected as spam", Failure.POLICY),
        ("552 5.3.4 message too big", Failure.PERMANENT),
    ],
)
def test_refusals_are_classified_and_the_connection_recovers(
    tmp_path: Path, smtp: MailServer, reply: str, failure: Failure
) -> None:
    smtp.reply_to("x@example.org", reply)
    transport = SmtpTransport.from_url(smtp.url)
    with pytest.raises(SendError) as caught:
        transport.send("a@daegu.go.kr", "x@example.org", a_message(tmp_path, "x@example.org"))
    assert caught.value.failure is failure
    assert caught.value.reply.code == int(reply[:3])
    # The same connection (RSET) goes on: the next message is accepted.
    assert transport.send("a@daegu.go.kr", "x@example.org", a_message(tmp_path, "x")).code == 250
    transport.close()


def test_refused_recipient(tmp_path: Path, smtp: MailServer) -> None:
    smtp.reply_to("gone@example.org", "550 5.1.1 <gone@example.org>: user unknown", at="rcpt")
    transport = SmtpTransport.from_url(smtp.url)
    with pytest.raises(SendError) as caught:
        transport.send("a@daegu.go.kr", "gone@example.org", b"Subject: x\r\n\r\nx\r\n")
    assert caught.value.failure is Failure.MAILBOX_GONE
    assert transport.send("a@daegu.go.kr", "ok@example.org", b"Subject: x\r\n\r\nx\r\n").code == 250
    transport.close()


def test_classify_without_enhanced_status() -> None:
    assert classify(SmtpReply(421, "closing")) is Failure.TEMPORARY
    assert classify(SmtpReply(550, "mailbox unavailable")) is Failure.PERMANENT
    assert classify(SmtpReply(550, "5.1.10 null MX")) is Failure.MAILBOX_GONE


def test_no_server_is_temporary() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = SmtpTransport("127.0.0.1", port, timeout=2)
    with pytest.raises(SendError) as caught:
        transport.send("a@daegu.go.kr", "b@example.org", b"Subject: x\r\n\r\nx\r\n")
    assert caught.value.failure is Failure.TEMPORARY and caught.value.reply.code == 0


class DropAfterData:
    """A server that takes the message, then hangs up instead of answering."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.got_message = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        stream = conn.makefile("rb")
        conn.sendall(b"220 drop ESMTP\r\n")
        for line in stream:
            verb = line[:4].upper()
            if verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                for body_line in stream:
                    if body_line == b".\r\n":
                        break
                self.got_message.set()
                stream.close()
                conn.close()
                self.sock.close()
                return
            conn.sendall(b"250 ok\r\n")


def test_a_drop_after_data_is_uncertain() -> None:
    server = DropAfterData()
    transport = SmtpTransport("127.0.0.1", server.port, timeout=5)
    with pytest.raises(SendError) as caught:
        transport.send("a@daegu.go.kr", "b@example.org", b"Subject: x\r\n\r\nx\r\n")
    assert server.got_message.is_set()
    assert caught.value.failure is Failure.UNCERTAIN
    assert transport._conn is None, "a connection in doubt is never reused"


def test_smtp_url_forms() -> None:
    plain = SmtpTransport.from_url("smtp://user%40x:p%3Ass@mail.example.org:2525?starttls=1")
    assert (plain.host, plain.port, plain.starttls, plain.implicit_tls) == (
        "mail.example.org",
        2525,
        True,
        False,
    )
    assert (plain.username, plain.password) == ("user@x", "p:ss")
    assert plain.endpoint == "smtp://mail.example.org:2525"  # no credentials in the log
    tls = SmtpTransport.from_url("smtps://mail.example.org")
    assert (tls.port, tls.implicit_tls) == (465, True)
    with pytest.raises(ValueError, match="SYNDICATOR_SMTP_URL"):
        SmtpTransport.from_url("http://mail.example.org")


def test_without_a_url_mail_goes_to_the_outbox(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path)
    transport = open_transport(settings)
    assert isinstance(transport, OutboxTransport)
    raw = a_message(tmp_path, "r@example.org")
    reply = transport.send(settings.sender, "r@example.org", raw)
    files = list((settings.data_dir / "outbox").glob("*.eml"))
    assert reply.code == 250 and len(files) == 1 and re.search(files[0].name, reply.text)
    assert files[0].read_bytes() == raw
    assert parse(files[0].read_bytes())["To"] == "r@example.org"


class IdleTimeout:
    """A server that answers one message, then says "421 idle timeout" and hangs up, as
    servers do with connections left idle; the next connection works normally."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        for connection in range(2):
            conn, _ = self.sock.accept()
            stream = conn.makefile("rb")
            conn.sendall(b"220 idle ESMTP\r\n")
            for line in stream:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250-idle\r\n250 PIPELINING\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    for body_line in stream:
                        if body_line == b".\r\n":
                            break
                    self.accepted += 1
                    conn.sendall(b"250 2.0.0 queued\r\n")
                    if connection == 0:
                        conn.sendall(b"421 4.4.2 idle timeout\r\n")
                        break
                else:
                    conn.sendall(b"250 ok\r\n")
            stream.close()
            conn.close()
        self.sock.close()


def test_a_timeout_notice_left_on_an_idle_connection_is_not_a_failure() -> None:
    server = IdleTimeout()
    transport = SmtpTransport("127.0.0.1", server.port, timeout=5)
    message = b"Subject: x\r\n\r\nx\r\n"
    assert transport.send("a@daegu.go.kr", "b@example.org", message).code == 250
    assert transport.send("a@daegu.go.kr", "c@example.org", message).code == 250
    transport.close()
    assert server.accepted == 2
