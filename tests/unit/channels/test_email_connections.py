"""The email channel over several SMTP connections (``SYNDICATOR_SMTP_CONNECTIONS``),
against a real server (aiosmtpd): the server's limits make rows wait as deferrals with a
due time, never failures, and every subscriber gets the newsletter exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.delivery.runner import Enqueue, plan_event, run_due
from syndicator.mail.pool import REST_FIRST
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, utcnow
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import add_subscriber, attempts_of, ledger, publish
from tests.unit.mail.support import assert_wire_format, mail_settings


def email_channel(db: Database, tmp_path: Path, smtp: MailServer, connections: int) -> EmailChannel:
    config = mail_settings(
        tmp_path,
        SYNDICATOR_SMTP_URL=smtp.url,
        SYNDICATOR_SMTP_CONNECTIONS=str(connections),
    )
    return EmailChannel(ChannelContext(settings=config, db=db))


def plan(db: Database, channel: EmailChannel, count: int) -> list[int]:
    for n in range(count):
        add_subscriber(db, f"r{n}@example.org")
    queued: list[Enqueue] = []
    plan_event(db, {"email": channel}, publish(db, 1), queued.append)
    return [i for item in queued for i in item.delivery_ids]


def time_passes(db: Database) -> None:
    """Every deferred row is due now."""
    with db.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def delivered(smtp: MailServer) -> Counter[str]:
    return Counter(r for received in smtp.received for r in received.recipients)


def test_the_setting_opens_that_many_connections_at_once(db: Database, tmp_path: Path) -> None:
    with running_mail_server() as smtp:
        smtp.gather_at_data = 3  # a message waits at DATA until three are there
        channel = email_channel(db, tmp_path, smtp, connections=3)
        try:
            run_due(db, channel, plan(db, channel, 30))
        finally:
            channel.close()
    assert smtp.at_data_peak == 3 and smtp.sessions_peak == 3
    assert set(ledger(db).values()) == {"succeeded"}
    assert delivered(smtp) == Counter(f"r{n}@example.org" for n in range(30))
    for received in smtp.received:
        assert_wire_format(received.raw)


def test_a_421_defers_the_row_with_a_due_time_and_the_rest_go_out(
    db: Database, tmp_path: Path
) -> None:
    with running_mail_server() as smtp:
        smtp.reply_to("r3@example.org", "421 4.3.2 too many messages, slow down", at="rcpt")
        channel = email_channel(db, tmp_path, smtp, connections=2)
        try:
            ids = plan(db, channel, 10)
            before = utcnow()
            run_due(db, channel, ids)
            with db.session() as session:
                row = session.scalars(
                    select(Delivery).where(Delivery.target == "subscriber:4")
                ).one()
                assert (row.status, row.attempts) == ("pending", 0), "deferred, not failed"
                assert row.next_attempt_at is not None
                wait = (row.next_attempt_at - before).total_seconds()
                assert REST_FIRST * 0.8 - 1 <= wait <= REST_FIRST * 1.2 + 5
            assert attempts_of(db, "subscriber:4") == [], "a deferral spends no attempt"
            others = {k: v for k, v in ledger(db).items() if k != "subscriber:4"}
            assert set(others.values()) == {"succeeded"} and len(others) == 9
            time_passes(db)
            run_due(db, channel, ids)
        finally:
            channel.close()
    assert set(ledger(db).values()) == {"succeeded"}
    assert delivered(smtp) == Counter(f"r{n}@example.org" for n in range(10))


def test_a_server_taking_fewer_sessions_gets_every_message_once(
    db: Database, tmp_path: Path
) -> None:
    """Four connections to a server that takes two: the two turned away rest (their rows
    deferred), the two it took carry the newsletter."""
    with running_mail_server() as smtp:
        smtp.session_limit = 2
        channel = email_channel(db, tmp_path, smtp, connections=4)
        try:
            ids = plan(db, channel, 60)
            for _ in range(5):
                run_due(db, channel, ids)
                if set(ledger(db).values()) == {"succeeded"}:
                    break
                time_passes(db)
        finally:
            channel.close()
    assert smtp.turned_away >= 1 and smtp.sessions_peak <= 2
    assert set(ledger(db).values()) == {"succeeded"}
    assert delivered(smtp) == Counter(f"r{n}@example.org" for n in range(60))
    with db.session() as session:
        outcomes = Counter(session.scalars(select(DeliveryAttempt.outcome)))
        attempts = Counter(session.scalars(select(Delivery.attempts)))
    assert outcomes == {"succeeded": 60} and attempts == {1: 60}
