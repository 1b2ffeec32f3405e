"""Sending ready-made messages: over SMTP, or into an ``.eml`` outbox when no server is set.

``send`` returns the server's reply on acceptance and raises :class:`SendError` otherwise,
with the failure classified once (:class:`Failure`), so callers only decide what each
class means for them. The SMTP connection is opened lazily, reused for every message and
reopened after a failure. A drop after the message was handed over (the final ``.`` sent,
no reply read) is ``UNCERTAIN``: the server may have queued it, so it must not be resent
blindly.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import re
import smtplib
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from syndicator.config import Settings

__all__ = [
    "Failure",
    "MailTransport",
    "OutboxTransport",
    "SendError",
    "SmtpReply",
    "SmtpTransport",
    "classify",
    "open_transport",
]

# Seconds to wait for the server on connect and for each reply.
SMTP_TIMEOUT = 30.0
_ENHANCED_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_LEADING_DOT = re.compile(rb"(?m)^\.")
# The replies that let MAIL, RCPT and DATA go on.
_ACCEPTED = ((250,), (250, 251), (354,))


@dataclass(frozen=True)
class SmtpReply:
    code: int  # 0: no reply (the connection failed)
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class Failure(enum.Enum):
    TEMPORARY = "temporary"  # 421, 4xx, or no connection: try again later, slower
    MAILBOX_GONE = "mailbox_gone"  # 5.1.x: the address does not exist; stop mailing it
    POLICY = "policy"  # 5.7.x: refused by policy (spam, auth, DMARC); an operator must look
    PERMANENT = "permanent"  # any other 5xx
    UNCERTAIN = "uncertain"  # dropped after the message was handed over: it may have arrived


class SendError(Exception):
    def __init__(self, failure: Failure, reply: SmtpReply) -> None:
        super().__init__(f"{failure.value}: {reply}")
        self.failure = failure
        self.reply = reply


def classify(reply: SmtpReply) -> Failure:
    """What a refusal means. The enhanced status code (RFC 3463) decides among 5xx."""
    if reply.code < 500:
        return Failure.TEMPORARY
    enhanced = _ENHANCED_STATUS.match(reply.text)
    subject = enhanced.group(2) if enhanced else None
    if subject == "1":
        return Failure.MAILBOX_GONE
    if subject == "7":
        return Failure.POLICY
    return Failure.PERMANENT


class MailTransport(Protocol):
    endpoint: str  # where mail goes, without credentials: the attempt log shows it

    def send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        """Hand ``message`` (CRLF line endings) over; raise :class:`SendError` if refused."""
        ...

    def close(self) -> None: ...


def open_transport(settings: Settings) -> MailTransport:
    """The transport ``SYNDICATOR_SMTP_URL`` names, or the ``.eml`` outbox without one.
    Nothing connects until the first ``send``."""
    if not settings.smtp_url:
        return OutboxTransport(settings.data_dir / "outbox")
    return SmtpTransport.from_url(settings.smtp_url)


class OutboxTransport:
    """Each message becomes ``<data_dir>/outbox/<time>-<id>.eml``, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.endpoint = f"file://{directory}"

    def send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(message)
        os.replace(partial, self.directory / name)
        return SmtpReply(250, f"written to outbox/{name}")

    def close(self) -> None:
        pass


def _sender_address(sender: str) -> str:
    """The envelope wants the bare address of ``Name <addr>``."""
    match = re.search(r"<([^<>]+)>\s*$", sender)
    return match.group(1) if match else sender.strip()


class SmtpTransport:
    """One connection, reused for every message; thread-safe (one message at a time)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        implicit_tls: bool = False,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = SMTP_TIMEOUT,
    ) -> None:
        self.host, self.port = host, port
        self.implicit_tls, self.starttls = implicit_tls, starttls
        self.username, self.password = username, password
        self.timeout = timeout
        scheme = "smtps" if implicit_tls else "smtp"
        self.endpoint = f"{scheme}://{host}:{port}"
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SYNDICATOR_SMTP_URL must look like smtp://user:pass@host:port")
        query = parse_qs(parts.query)
        implicit_tls = parts.scheme == "smtps"
        return cls(
            parts.hostname,
            parts.port or (465 if implicit_tls else 25),
            implicit_tls=implicit_tls,
            starttls=query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        with self._lock:
            try:
                return self._send(_sender_address(sender), recipient, message)
            except SendError as error:
                # 421 closes the session; anything unexpected leaves it in doubt.
                if error.reply.code in (0, 421) or error.failure is Failure.UNCERTAIN:
                    self._drop()
                raise

    def _send(self, sender: str, recipient: str, message: bytes) -> SmtpReply:
        # A connection that went stale while idle fails before anything was handed over
        # (or first yields the "421 timeout" the server left on it): reconnect once.
        for fresh in (False, True):
            conn = self._connection(reconnect=fresh)
            try:
                replies = self._open_transaction(conn, sender, recipient)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                if fresh:
                    raise SendError(Failure.TEMPORARY, SmtpReply(0, _describe(exc))) from exc
                continue
            if fresh or not replies or replies[0].code != 421:
                break
            self._drop()
        self._check_opened(conn, replies)
        # Dot-stuffing (RFC 5321 4.5.2); most messages have no line starting with a dot.
        stuffed = message.startswith(b".") or b"\n." in message
        payload = _LEADING_DOT.sub(b"..", message) if stuffed else message
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        try:
            conn.send(payload + b".\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # The final dot may not have arrived whole; without it nothing is queued.
            raise SendError(Failure.TEMPORARY, SmtpReply(0, _describe(exc))) from exc
        reply = self._reply(conn, handed_over=True)
        if reply.code // 100 != 2:
            raise SendError(classify(reply), reply)
        return reply

    def _open_transaction(self, conn: smtplib.SMTP, sender: str, recipient: str) -> list[SmtpReply]:
        """MAIL, RCPT and DATA: in one write when the server offers PIPELINING (RFC 2920),
        else one at a time, stopping at the first refusal."""
        utf8 = "" if (sender + recipient).isascii() else " SMTPUTF8"
        commands = [f"MAIL FROM:<{sender}>{utf8}", f"RCPT TO:<{recipient}>", "DATA"]
        replies: list[SmtpReply] = []
        if conn.has_extn("pipelining"):
            conn.send("".join(f"{c}\r\n" for c in commands).encode("utf-8"))
            for _ in commands:
                try:
                    replies.append(self._reply(conn, handed_over=False))
                except SendError:
                    if replies:  # it answered, then hung up (421): the answer says why
                        return replies
                    raise smtplib.SMTPServerDisconnected("no reply") from None
            return replies
        for command, accepted in zip(commands, _ACCEPTED, strict=True):
            conn.send(f"{command}\r\n".encode())
            try:
                replies.append(self._reply(conn, handed_over=False))
            except SendError:
                if replies:
                    return replies
                raise smtplib.SMTPServerDisconnected("no reply") from None
            if replies[-1].code not in accepted:
                return replies
        return replies

    def _check_opened(self, conn: smtplib.SMTP, replies: list[SmtpReply]) -> None:
        """Raise for the first refusal among the replies to MAIL, RCPT and DATA."""
        for reply, accepted in zip(replies, _ACCEPTED, strict=False):
            if reply.code in accepted:
                continue
            if len(replies) == len(_ACCEPTED) and replies[-1].code == 354:
                # DATA was let through after a refusal: end it with no recipient to take it.
                with contextlib.suppress(SendError, smtplib.SMTPException, OSError):
                    conn.send(b".\r\n")
                    self._reply(conn, handed_over=False)
            if reply.code != 421:
                self._reset(conn)
            raise SendError(classify(reply), reply)
        if len(replies) < len(_ACCEPTED):
            raise SendError(Failure.TEMPORARY, SmtpReply(0, "the server stopped answering"))

    def _reply(self, conn: smtplib.SMTP, handed_over: bool) -> SmtpReply:
        try:
            code, raw = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            failure = Failure.UNCERTAIN if handed_over else Failure.TEMPORARY
            raise SendError(failure, SmtpReply(0, _describe(exc))) from exc
        return SmtpReply(code, raw.decode("utf-8", "replace"))

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _connection(self, reconnect: bool = False) -> smtplib.SMTP:
        if self._conn is not None and not reconnect:
            return self._conn
        self._drop()
        try:
            self._conn = self._connect()
        except smtplib.SMTPResponseException as exc:
            reply = SmtpReply(exc.smtp_code, _text(exc.smtp_error))
            raise SendError(classify(reply), reply) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(Failure.TEMPORARY, SmtpReply(0, _describe(exc))) from exc
        return self._conn

    def _connect(self) -> smtplib.SMTP:
        conn: smtplib.SMTP
        if self.implicit_tls:
            conn = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=_tls_context()
            )
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        conn.ehlo()
        if self.starttls:
            conn.starttls(context=_tls_context())
            conn.ehlo()
        if self.username:
            conn.login(self.username, self.password or "")
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    self._conn.quit()
            self._drop()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One per process, only for TLS: loading the system's CA certificates costs more CPU
    than hundreds of messages."""
    return ssl.create_default_context()


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
