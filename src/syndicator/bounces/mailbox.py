"""The bounce mailbox (``SYNDICATOR_BOUNCE_MAILBOX``): bounces that arrive as mail in an
IMAP folder, read one by one, each handed to a handler and then moved out of the way.

A message the handler read (a bounce or complaint recorded, an auto-reply ignored on
purpose) goes to the processed folder; one it could not read as any report goes to the
unhandled folder, for a person. When the handler raises (the database is down), reading
stops and that message and every later one stay where they are, for the next poll. A
message handled but not moved (the connection dropped in between) is handled again
next time, which changes nothing: every report carries its dedupe key.

Where the server offers IDLE, a poll waits in IDLE for new mail after draining the folder,
up to its time budget, so a bounce is read within seconds instead of at the next poll.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient
from imapclient.imapclient import DELETED

from syndicator.logs import kv

__all__ = [
    "Mailbox",
    "PollReport",
    "Verdict",
    "drain",
    "open_mailbox",
    "parse_mailbox_url",
    "poll",
    "verdict_of",
]

log = logging.getLogger("syndicator.bounces")

Verdict = Literal["processed", "unhandled"]
Handler = Callable[[bytes], Verdict]

# Reasons a report is ignored on purpose: it was read, it just asks nothing of us.
_READ_ON_PURPOSE = ("automatic reply", "delayed", "delivery report", "feedback report")
_TIMEOUT = 30.0
# One IDLE lasts at most this long (servers drop an IDLE after 30 minutes; NATs sooner).
IDLE_ROUND_SECONDS = 25.0


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    tls: bool
    user: str
    password: str = field(repr=False)
    folder: str


def parse_mailbox_url(url: str) -> Mailbox:
    """``imaps://user:pass@host[:port]/Folder`` (``imap://`` without TLS); the user and
    password URL-encoded, the folder INBOX when none is given."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError("expected imaps://user:pass@host/INBOX")
    if parts.username is None or parts.password is None:
        raise ValueError("the URL must carry the mailbox's user and password")
    tls = parts.scheme == "imaps"
    return Mailbox(
        host=parts.hostname,
        port=parts.port or (993 if tls else 143),
        tls=tls,
        user=unquote(parts.username),
        password=unquote(parts.password),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


class _Result(Protocol):
    @property
    def ignored(self) -> str | None: ...


def verdict_of(result: _Result) -> Verdict:
    """Where a mail goes once ingested: anything recorded, or ignored for a reason that
    says it was read (an auto-reply, a delay warning), is processed; the rest unhandled."""
    if result.ignored is None or result.ignored.startswith(_READ_ON_PURPOSE):
        return "processed"
    return "unhandled"


@dataclass
class PollReport:
    processed: int = 0
    unhandled: int = 0
    idled: bool = False

    def add(self, other: PollReport) -> None:
        self.processed += other.processed
        self.unhandled += other.unhandled


def open_mailbox(mailbox: Mailbox, ca_file: Path | None = None) -> IMAPClient:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    client = IMAPClient(
        mailbox.host, mailbox.port, ssl=mailbox.tls, ssl_context=context, timeout=_TIMEOUT
    )
    try:
        # AUTHENTICATE PLAIN carries a password as UTF-8; LOGIN takes ASCII only.
        if client.has_capability("AUTH=PLAIN"):
            client.plain_login(mailbox.user, mailbox.password)
        else:
            client.login(mailbox.user, mailbox.password)
    except BaseException:
        client.shutdown()
        raise
    return client


def drain(client: IMAPClient, folders: tuple[str, str, str], handle: Handler) -> PollReport:
    """Hand every message in ``folders[0]`` to ``handle`` and move it to ``folders[1]``
    (processed) or ``folders[2]`` (unhandled). ``handle`` raising stops the drain with the
    message still in place, and the error propagates."""
    source, processed, unhandled = folders
    report = PollReport()
    client.select_folder(source)
    for uid in client.search(["NOT", "DELETED"]):
        fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        if fetched is None or b"BODY[]" not in fetched:
            continue  # expunged meanwhile by another client
        verdict = handle(bytes(fetched[b"BODY[]"]))
        _move(client, uid, processed if verdict == "processed" else unhandled)
        if verdict == "processed":
            report.processed += 1
        else:
            report.unhandled += 1
    return report


def poll(
    mailbox: Mailbox,
    folders: tuple[str, str],
    handle: Handler,
    idle_seconds: float = 0.0,
    ca_file: Path | None = None,
    clock: Callable[[], float] = time.monotonic,
    idle_round: float = IDLE_ROUND_SECONDS,
) -> PollReport:
    """Drain the mailbox's folder, then (IDLE offered, ``idle_seconds`` left) wait for new
    mail and drain again as it comes. ``folders``: processed, unhandled (made if missing)."""
    client = open_mailbox(mailbox, ca_file)
    try:
        report = _read(client, (mailbox.folder, *folders), handle, idle_seconds, clock, idle_round)
    except BaseException:
        client.shutdown()  # no polite logout on a broken session
        raise
    client.logout()
    log.info(
        kv(
            msg="bounce mailbox read",
            processed=report.processed,
            unhandled=report.unhandled,
            idled=report.idled,
        )
    )
    return report


def _read(
    client: IMAPClient,
    folders: tuple[str, str, str],
    handle: Handler,
    idle_seconds: float,
    clock: Callable[[], float],
    idle_round: float,
) -> PollReport:
    for name in folders[1:]:
        if not client.folder_exists(name):
            client.create_folder(name)
    report = drain(client, folders, handle)
    if idle_seconds <= 0 or not client.has_capability("IDLE"):
        return report
    report.idled = True
    deadline = clock() + idle_seconds
    while (left := deadline - clock()) > 0:
        client.idle()
        try:
            responses = client.idle_check(timeout=min(left, idle_round))
        finally:
            _, late = client.idle_done()
        # New mail says EXISTS; a round without any drains anyway, since mail that came
        # just before IDLE began was announced to no one.
        if any(_is_exists(r) for r in (*responses, *late)) or not responses:
            report.add(drain(client, folders, handle))
    return report


def _move(client: IMAPClient, uid: int, folder: str) -> None:
    if client.has_capability("MOVE"):
        client.move([uid], folder)
        return
    client.copy([uid], folder)
    client.add_flags([uid], [DELETED])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    else:
        client.expunge()


def _is_exists(response: object) -> bool:
    return isinstance(response, tuple) and len(response) > 1 and response[1] == b"EXISTS"
