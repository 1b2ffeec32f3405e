"""Several SMTP connections at once, against a real server (aiosmtpd): concurrency, the
server's limits (421, sessions turned away, no server at all), and every message once."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.mail.pool import REST_FIRST, REST_LONGEST, ServerBusy, TransportPool
from syndicator.mail.transport import SmtpReply, SmtpTransport
from tests.mail_server import MailServer, running_mail_server
from tests.unit.mail.support import assert_wire_format

SENDER = "noreply@daegu.go.kr"


def message(recipient: str) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: {recipient}\r\nSubject: 보도자료\r\n\r\n"
        ".a line starting with a dot\r\nend\r\n"
    ).encode()


class Clock:
    """The pool's monotonic clock, moved by the test: a rest ends without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pool(server_port: int, size: int, clock: Clock | None = None) -> TransportPool:
    return TransportPool(
        size, lambda: SmtpTransport("127.0.0.1", server_port, timeout=10), clock or Clock()
    )


async def send_all(pool: TransportPool, recipients: list[str]) -> dict[str, SmtpReply | ServerBusy]:
    async def one(recipient: str) -> SmtpReply | ServerBusy:
        try:
            return await pool.send(SENDER, recipient, message(recipient))
        except ServerBusy as busy:
            return busy

    results = await asyncio.gather(*(one(r) for r in recipients))
    return dict(zip(recipients, results, strict=True))


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


def delivered(smtp: MailServer) -> Counter[str]:
    return Counter(r for received in smtp.received for r in received.recipients)


@pytest.mark.parametrize("size", [1, 3, 4])
def test_the_server_sees_as_many_sessions_at_once_as_connections(
    smtp: MailServer, size: int
) -> None:
    smtp.gather_at_data = size  # each message waits at DATA until `size` are there
    pool = make_pool(smtp.port, size)
    recipients = [f"r{n}@example.org" for n in range(3 * size)]
    try:
        results = asyncio.run(send_all(pool, recipients))
    finally:
        pool.close()
    assert all(isinstance(r, SmtpReply) and r.code == 250 for r in results.values())
    assert smtp.at_data_peak == size, "messages in flight together"
    assert smtp.sessions_peak == size, "never more sessions than connections"
    assert delivered(smtp) == Counter(recipients)
    for received in smtp.received:
        assert_wire_format(received.raw)
        assert b"\r\n.a line starting with a dot\r\n" in received.raw


def test_a_421_rests_that_connection_while_the_others_go_on(smtp: MailServer) -> None:
    smtp.reply_to("busy@example.org", "421 4.3.2 too busy, closing", at="rcpt")
    clock = Clock()
    pool = make_pool(smtp.port, 3, clock)
    others = [f"r{n}@example.org" for n in range(12)]
    try:
        results = asyncio.run(send_all(pool, ["busy@example.org", *others]))
        refused = results["busy@example.org"]
        assert isinstance(refused, ServerBusy)
        assert refused.reply.code == 421 and "too busy" in refused.reply.text
        assert REST_FIRST * 0.8 <= refused.retry_in <= REST_FIRST * 1.2
        assert pool.resting() == 1
        assert delivered(smtp) == Counter(others), "the other connections kept sending"
        # Its rest over, the connection is tried again and the message goes through.
        clock.now += REST_FIRST * 1.2
        again = asyncio.run(send_all(pool, ["busy@example.org"]))
    finally:
        pool.close()
    assert isinstance(again["busy@example.org"], SmtpReply)
    assert pool.resting() == 0
    assert delivered(smtp) == Counter([*others, "busy@example.org"])


def test_sessions_over_the_servers_limit_rest_and_the_accepted_ones_carry_on(
    smtp: MailServer,
) -> None:
    smtp.session_limit = 2
    smtp.gather_at_data = 2
    pool = make_pool(smtp.port, 4)
    recipients = [f"r{n}@example.org" for n in range(40)]
    try:
        results = asyncio.run(send_all(pool, recipients))
        busy = [r for r, result in results.items() if isinstance(result, ServerBusy)]
        assert smtp.turned_away >= 1 and smtp.sessions_peak == 2
        assert 1 <= len(busy) <= 2, "only the messages of the connections turned away wait"
        assert all(results[r].reply.code == 421 for r in busy)  # type: ignore[union-attr]
        assert pool.resting() == len(busy)
        # The deferred ones, sent later, go over the connections the server took.
        later = asyncio.run(send_all(pool, busy))
    finally:
        pool.close()
    assert all(isinstance(r, SmtpReply) for r in later.values())
    assert delivered(smtp) == Counter(recipients), "every message exactly once"


def test_no_server_makes_every_connection_rest_and_every_message_wait() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = Clock()
    pool = make_pool(port, 2, clock)
    try:
        results = asyncio.run(send_all(pool, [f"r{n}@example.org" for n in range(6)]))
        assert all(isinstance(r, ServerBusy) for r in results.values())
        assert pool.resting() == 2
        waits = [r.retry_in for r in results.values() if isinstance(r, ServerBusy)]
        assert all(0 < wait <= REST_FIRST * 1.2 for wait in waits)
        # A second refusal in a row rests longer.
        clock.now += REST_FIRST * 1.2
        (again,) = asyncio.run(send_all(pool, ["r0@example.org"])).values()
    finally:
        pool.close()
    assert isinstance(again, ServerBusy) and again.retry_in > REST_FIRST * 1.2


# A recipient's scripted trouble: none, or a 421 at RCPT or at the end of DATA.
trouble = st.sampled_from([None, "rcpt", "data"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(1, 4),
    limit=st.one_of(st.none(), st.integers(1, 4)),
    troubles=st.lists(trouble, min_size=1, max_size=16),
)
def test_whatever_the_server_refuses_every_message_arrives_exactly_once(
    size: int, limit: int | None, troubles: list[str | None]
) -> None:
    clock = Clock()
    with running_mail_server() as smtp:
        smtp.session_limit = limit
        recipients = [f"r{n}@example.org" for n in range(len(troubles))]
        for recipient, where in zip(recipients, troubles, strict=True):
            if where:
                smtp.reply_to(recipient, "421 4.3.2 not now", at=where)
        pool = make_pool(smtp.port, size, clock)
        try:
            waiting = recipients
            # Each round sends a message or uses up one scripted refusal at least.
            for _ in range(2 * len(recipients) + 2):
                if not waiting:
                    break
                results = asyncio.run(send_all(pool, waiting))
                assert all(isinstance(r, ServerBusy) or r.code == 250 for r in results.values())
                waiting = [r for r, result in results.items() if isinstance(result, ServerBusy)]
                clock.now += REST_LONGEST * 1.2  # every rest is over
        finally:
            pool.close()
        assert waiting == []
        assert delivered(smtp) == Counter(recipients)
        if limit is not None:
            assert smtp.sessions_peak <= limit


class Held:
    """A transport whose first send waits for the test to let it go: the pool's one
    thread is then busy while the next messages queue behind it."""

    endpoint = "held://"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.sent: list[str] = []

    def send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        if not self.sent and not self.release.is_set():
            self.started.set()
            self.release.wait(30)
        self.sent.append(recipient)
        return SmtpReply(250, f"ok {recipient}")

    def close(self) -> None:
        pass


def test_a_message_cancelled_before_a_thread_took_it_is_never_sent() -> None:
    transport = Held()
    pool = TransportPool(1, lambda: transport, Clock())

    async def scenario() -> tuple[SmtpReply, SmtpReply]:
        first = asyncio.ensure_future(pool.send(SENDER, "first@example.org", b"x\r\n"))
        dropped = asyncio.ensure_future(pool.send(SENDER, "dropped@example.org", b"x\r\n"))
        last = asyncio.ensure_future(pool.send(SENDER, "last@example.org", b"x\r\n"))
        await asyncio.to_thread(transport.started.wait, 30)
        dropped.cancel()
        transport.release.set()
        return await first, await last

    try:
        first, last = asyncio.run(scenario())
    finally:
        pool.close()
    assert (first.text, last.text) == ("ok first@example.org", "ok last@example.org")
    assert transport.sent == ["first@example.org", "last@example.org"]


def test_many_messages_over_few_connections_each_sent_once_each_answered(smtp: MailServer) -> None:
    """Replies come back to the loop in bunches: none is lost or given twice."""
    pool = make_pool(smtp.port, 3)
    recipients = [f"r{n}@example.org" for n in range(60)]
    try:
        results = asyncio.run(send_all(pool, recipients))
    finally:
        pool.close()
    assert all(isinstance(r, SmtpReply) and r.code == 250 for r in results.values())
    assert delivered(smtp) == Counter(recipients)
