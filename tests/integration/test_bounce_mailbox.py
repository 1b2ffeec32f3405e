"""The bounce mailbox against a real IMAP server: a private Dovecot (tests/dovecot.py) over
IMAPS, holding mail from the bounce corpus. Each message ends in the folder its reading
says; a handler that fails (the database down) leaves it and every later one in place;
mail that arrives while the poll waits in IDLE is read then."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from imapclient import IMAPClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import workers.bounce_tasks as bounce_tasks
from syndicator.bounces import verp
from syndicator.bounces.feedback import Ignored
from syndicator.bounces.mailbox import (
    Mailbox,
    Verdict,
    open_mailbox,
    parse_mailbox_url,
    poll,
    verdict_of,
)
from syndicator.bounces.parsing import parse_report
from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.models import MailFeedback, Subscriber
from tests.bounce_reports import auto_reply, dsn
from tests.dovecot import Dovecot, dovecot_missing, running_dovecot
from tests.newsletter_support import add_subscriber

pytestmark = pytest.mark.skipif(dovecot_missing() is not None, reason=dovecot_missing() or "")

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "bounces"
BOUNCE = (CORPUS / "postfix-local-unknown-user.eml").read_bytes()
AUTOREPLY = (CORPUS / "autoreply-korean-out-of-office.eml").read_bytes()
NOT_A_BOUNCE = (CORPUS / "not-a-bounce.eml").read_bytes()
FOLDERS = ("Processed", "Unhandled")


class _Parsed:
    def __init__(self, raw: bytes) -> None:
        parsed = parse_report(raw)
        self.ignored = parsed.reason if isinstance(parsed, Ignored) else None


def read(raw: bytes) -> Verdict:
    return verdict_of(_Parsed(raw))


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    return parse_mailbox_url(dovecot.url())


def deliver(mailbox: Mailbox, dovecot: Dovecot, *messages: bytes) -> None:
    with open_mailbox(mailbox, dovecot.ca_file) as client:
        for raw in messages:
            client.append("INBOX", raw)


def contents(client: IMAPClient, folder: str) -> list[bytes]:
    client.select_folder(folder, readonly=True)
    uids = client.search(["NOT", "DELETED"])
    return [client.fetch([u], ["BODY.PEEK[]"])[u][b"BODY[]"] for u in uids]


def test_the_url_reads_as_the_mailbox(dovecot: Dovecot) -> None:
    mailbox = parse_mailbox_url(dovecot.url("INBOX"))
    assert (mailbox.user, mailbox.password, mailbox.folder, mailbox.tls) == (
        "bounces",
        "p@ss word/한",
        "INBOX",
        True,
    )
    assert parse_mailbox_url("imap://u:p@mail.example").port == 143
    assert parse_mailbox_url("imaps://u:p@mail.example").port == 993


def test_each_message_goes_where_its_reading_says(mailbox: Mailbox, dovecot: Dovecot) -> None:
    deliver(mailbox, dovecot, BOUNCE, NOT_A_BOUNCE, AUTOREPLY)
    report = poll(mailbox, FOLDERS, read, ca_file=dovecot.ca_file)
    assert (report.processed, report.unhandled) == (2, 1)
    with open_mailbox(mailbox, dovecot.ca_file) as client:
        assert contents(client, "INBOX") == []
        processed = contents(client, "Processed")
        assert [m.replace(b"\r\n", b"\n") for m in processed] == [
            BOUNCE.replace(b"\r\n", b"\n"),
            AUTOREPLY.replace(b"\r\n", b"\n"),
        ]
        assert len(contents(client, "Unhandled")) == 1


def test_a_failing_handler_leaves_that_message_and_the_rest_in_place(
    mailbox: Mailbox, dovecot: Dovecot
) -> None:
    deliver(mailbox, dovecot, BOUNCE, AUTOREPLY, NOT_A_BOUNCE)
    seen: list[bytes] = []

    def database_down_after_one(raw: bytes) -> Verdict:
        seen.append(raw)
        if len(seen) > 1:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return read(raw)

    with pytest.raises(OperationalError):
        poll(mailbox, FOLDERS, database_down_after_one, ca_file=dovecot.ca_file)
    with open_mailbox(mailbox, dovecot.ca_file) as client:
        assert len(contents(client, "INBOX")) == 2
        assert len(contents(client, "Processed")) == 1
    # The database is back: the next poll reads the rest.
    report = poll(mailbox, FOLDERS, read, ca_file=dovecot.ca_file)
    assert (report.processed, report.unhandled) == (1, 1)


def test_mail_arriving_during_idle_is_read_then(mailbox: Mailbox, dovecot: Dovecot) -> None:
    deliver(mailbox, dovecot, BOUNCE)
    handled: list[bytes] = []
    first, second = threading.Event(), threading.Event()

    def handle(raw: bytes) -> Verdict:
        handled.append(raw)
        (second if first.is_set() else first).set()
        return read(raw)

    # The poll's clock runs out once the second message is read: no waiting for it.
    def clock() -> float:
        return float("inf") if second.is_set() else time.monotonic()

    result: list[object] = []
    poller = threading.Thread(
        target=lambda: result.append(
            poll(
                mailbox,
                FOLDERS,
                handle,
                idle_seconds=120,
                ca_file=dovecot.ca_file,
                clock=clock,
                idle_round=2,
            )
        )
    )
    poller.start()
    assert first.wait(30), "the first message was not read"
    deliver(mailbox, dovecot, AUTOREPLY)
    assert second.wait(30), "mail that came during IDLE was not read"
    poller.join(30)
    [report] = result
    assert report.idled and report.processed == 2  # type: ignore[attr-defined]


def test_a_wrong_password_is_refused(dovecot: Dovecot) -> None:
    mailbox = parse_mailbox_url(dovecot.url().replace("p%40ss", "wrong"))
    with pytest.raises(IMAPClient.Error):
        poll(mailbox, FOLDERS, read, ca_file=dovecot.ca_file)


# --- The beat task: the real ingest, the real database -----------------------------------


def _original(sender: str, to: str) -> bytes:
    return (
        f"Return-Path: <{sender}>\r\nFrom: noreply@daegu.go.kr\r\nTo: {to}\r\n"
        "Subject: news\r\nMessage-ID: <e1.1@daegu.go.kr>\r\n\r\nbody\r\n"
    ).encode()


@pytest.fixture
def task_settings(settings: Settings, dovecot: Dovecot, redis_url: str) -> Settings:
    return settings.with_(
        redis_url=redis_url,
        bounce_address="bounces@news.example.kr",
        bounce_mailbox=dovecot.url(),
        bounce_mailbox_ca_file=dovecot.ca_file,
        bounce_mailbox_poll_seconds=0.01,  # no IDLE: the run drains and returns
    )


def run_task(monkeypatch: pytest.MonkeyPatch, settings: Settings, db: Database) -> None:
    client = redis.Redis.from_url(settings.redis_url or "")
    try:
        monkeypatch.setattr(
            bounce_tasks, "runtime", lambda: SimpleNamespace(db=db, settings=settings, redis=client)
        )
        bounce_tasks.read_bounce_mailbox()
    finally:
        client.close()


def test_the_task_records_each_bounce_and_moves_it(
    db: Database, task_settings: Settings, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = parse_mailbox_url(dovecot.url())
    sid = add_subscriber(db, "gone@example.org")
    sender = verp.envelope_sender(task_settings, 0, sid)
    assert sender is not None
    bounce = dsn(sender, "gone@example.org", _original(sender, "gone@example.org"))
    deliver(mailbox, dovecot, bounce, auto_reply(sender), NOT_A_BOUNCE)
    run_task(monkeypatch, task_settings, db)
    with db.session() as session:
        subscriber = session.get(Subscriber, sid)
        assert subscriber is not None
        assert (subscriber.status, subscriber.suppressed_kind) == ("suppressed", "hard_bounce")
        [kept] = session.scalars(select(MailFeedback)).all()
        assert (kept.source, kept.status) == ("imap", "5.1.1")
    with open_mailbox(mailbox, dovecot.ca_file) as client:
        assert contents(client, "INBOX") == []
        assert len(contents(client, "Processed")) == 2
        assert len(contents(client, "Unhandled")) == 1


def test_with_the_database_down_every_message_stays(
    db: Database,
    task_settings: Settings,
    dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    mailbox = parse_mailbox_url(dovecot.url())
    sender = verp.envelope_sender(task_settings, 0, 1)
    assert sender is not None
    deliver(mailbox, dovecot, dsn(sender, "gone@example.org", _original(sender, "x@y.kr")))
    down = Database(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    run_task(monkeypatch, task_settings, down)  # logs, does not raise
    with open_mailbox(mailbox, dovecot.ca_file) as client:
        assert len(contents(client, "INBOX")) == 1
        assert contents(client, "Processed") == []
