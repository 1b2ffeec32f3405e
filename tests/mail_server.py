"""A real SMTP server for tests (aiosmtpd in a thread) that keeps what it received and
answers from a script: a reply per recipient, used once each, then plain acceptance. It
counts the sessions open at once, and can turn away sessions over a limit with a 421."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.services import free_port
from tests.system import RunningSystem, system_env, wait_for

__all__ = ["MailServer", "Received", "running_mail_server"]


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: tuple[str, ...]
    raw: bytes  # as it came over the wire, dot-unstuffed

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class MailServer:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    # recipient -> replies to give at DATA's end, first one first
    script: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    # recipient -> replies to give at RCPT
    rcpt_script: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Seconds to take over each message: a slower server, for a send that lasts.
    delay: float = 0.0
    # While set, the reply to every RCPT: a server refusing all mail for a while.
    refusing: str | None = None
    # (n, reply): start refusing with reply once n messages arrived. A fault set from the
    # test's thread can come after a fast send has ended; this one is mid-flight by design.
    refuse_from: tuple[int, str] | None = None
    # Sessions over this many at once are greeted with a 421 and closed (a relay's limit).
    session_limit: int | None = None
    sessions_open: int = 0
    sessions_peak: int = 0  # the most sessions open at once
    turned_away: int = 0
    # Messages wait at DATA until this many sessions are at DATA together (or 30 s pass,
    # so a test that cannot get there fails on its assertion rather than hanging).
    gather_at_data: int = 0
    at_data: int = 0
    at_data_peak: int = 0
    _gathered: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def reply_to(self, recipient: str, *replies: str, at: str = "data") -> None:
        target = self.script if at == "data" else self.rcpt_script
        with self.lock:
            target[recipient].extend(replies)

    def to(self, recipient: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if recipient in r.recipients]

    # aiosmtpd handler hooks
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.lock:
            if self.refusing:
                return self.refusing
            scripted = self.rcpt_script.get(address)
            if scripted:
                return scripted.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def session_opened(self) -> bool:
        """Whether a new session may go on (else it is turned away)."""
        with self.lock:
            if self.session_limit is not None and self.sessions_open >= self.session_limit:
                self.turned_away += 1
                return False
            self.sessions_open += 1
            self.sessions_peak = max(self.sessions_peak, self.sessions_open)
            return True

    def session_closed(self) -> None:
        with self.lock:
            self.sessions_open -= 1

    async def _gather(self) -> None:
        if self._gathered is None:
            self._gathered = asyncio.Event()
        self.at_data += 1
        self.at_data_peak = max(self.at_data_peak, self.at_data)
        if self.at_data >= self.gather_at_data:
            self._gathered.set()
        try:
            await asyncio.wait_for(self._gathered.wait(), 30)
        except TimeoutError:
            pass
        finally:
            self.at_data -= 1

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.gather_at_data:
            await self._gather()
        recipients = tuple(envelope.rcpt_tos)
        with self.lock:
            for recipient in recipients:
                scripted = self.script.get(recipient)
                if scripted:
                    return scripted.popleft()
            self.received.append(
                Received(envelope.mail_from, recipients, bytes(envelope.original_content))
            )
            number = len(self.received)
            if self.refuse_from is not None and number >= self.refuse_from[0]:
                self.refusing = self.refuse_from[1]
        return f"250 2.0.0 Ok: queued as Q{number}"


class _CountingSMTP(SMTP):
    """aiosmtpd's server, counting sessions and turning away those over the limit."""

    async def _handle_client(self) -> None:
        server = self.event_handler
        assert isinstance(server, MailServer)
        if not server.session_opened():
            await self.push("421 4.7.0 too many connections from you, try again later")
            assert self.transport is not None
            self.transport.close()
            return
        try:
            await super()._handle_client()
        finally:
            server.session_closed()


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


@contextmanager
def running_mail_server() -> Iterator[MailServer]:
    server = MailServer("127.0.0.1", free_port())
    controller = _Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@contextmanager
def system_with_mail(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str, token_key: str
) -> Iterator[tuple[RunningSystem, MailServer]]:
    """`syndicator run` sending its mail to a real SMTP server of the test's own."""
    with running_mail_server() as smtp:
        env = system_env(
            tmp_path,
            database_url,
            redis_url,
            cms_secret,
            SYNDICATOR_SMTP_URL=smtp.url,
            SYNDICATOR_TOKEN_KEYS=token_key,
        )
        running = RunningSystem(env, tmp_path / "system.log")
        try:
            yield running.start(), smtp
        finally:
            running.stop()


def mails_to(smtp: MailServer, address: str, count: int) -> list[Received]:
    """Once ``address`` has received at least ``count`` messages: all of them."""
    return wait_for(lambda: smtp.to(address) if len(smtp.to(address)) >= count else None, 90)
