"""The email channel: who is planned, and what each SMTP reply does to the ledger.

A real SMTP server (aiosmtpd) receives the mail; messages are read back with ``email``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select, update

from syndicator.bounces.verp import VerpIds, read_tag, tag_of_address
from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.config import Settings
from syndicator.delivery.runner import Enqueue, plan_event, run_due
from syndicator.mail.deferral import mail_deferred
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Subscriber, utcnow
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import add_subscriber, attempts_of, ledger, publish
from tests.unit.mail.support import assert_wire_format, mail_settings, parse


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def mail_config(tmp_path: Path, smtp: MailServer, database_url: str) -> Settings:
    return mail_settings(
        tmp_path, SYNDICATOR_SMTP_URL=smtp.url, SYNDICATOR_DATABASE_URL=database_url
    )


@pytest.fixture
def channel(db: Database, mail_config: Settings) -> Iterator[EmailChannel]:
    made = EmailChannel(ChannelContext(settings=mail_config, db=db))
    yield made
    made.close()


def send_event(db: Database, channel: EmailChannel, event) -> list[int]:
    queued: list[Enqueue] = []
    plan_event(db, {"email": channel}, event, queued.append)
    ids = [i for item in queued for i in item.delivery_ids]
    run_due(db, channel, ids)
    return ids


def test_plans_active_immediate_followers_only(db: Database, channel: EmailChannel) -> None:
    everything = add_subscriber(db, "all@example.org")
    by_department = add_subscriber(db, "dept@example.org", departments=["위생정책과"])
    by_category = add_subscriber(db, "cat@example.org", categories=["보건"])
    add_subscriber(db, "other@example.org", departments=["교통정책과"], categories=["문화"])
    add_subscriber(db, "daily@example.org", mode="daily")
    add_subscriber(db, "pending@example.org", status="pending")
    add_subscriber(db, "left@example.org", status="unsubscribed")
    event = publish(db, 1)
    assert list(channel.plan(event)) == [
        f"subscriber:{n}" for n in (everything, by_department, by_category)
    ]


def test_no_mail_for_backfill_retractions_or_minor_corrections(
    db: Database, channel: EmailChannel
) -> None:
    add_subscriber(db, "all@example.org")
    assert list(channel.plan(publish(db, 1, source="import"))) == []
    publish(db, 2)
    later = "2022-10-24T09:00:00+09:00"
    assert list(channel.plan(publish(db, 2, type="release.updated", updated_at=later))) == []
    fixed = publish(
        db, 2, type="release.updated", updated_at="2022-10-25T09:00:00+09:00", significant=True
    )
    assert fixed.payload["significant"] is True
    assert len(list(channel.plan(fixed))) == 1
    retracted = publish(db, 2, type="release.retracted", updated_at="2022-10-26T09:00:00+09:00")
    assert list(channel.plan(retracted)) == []


def test_sends_one_message_per_subscriber_with_the_reply_in_the_log(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    ids = [add_subscriber(db, f"r{n}@example.org") for n in range(3)]
    event = publish(db, 1)
    send_event(db, channel, event)
    assert ledger(db) == {f"subscriber:{n}": "succeeded" for n in ids}
    assert sorted(r.recipients[0] for r in smtp.received) == [f"r{n}@example.org" for n in range(3)]
    for received in smtp.received:
        assert_wire_format(received.raw)
    (attempt,) = attempts_of(db, f"subscriber:{ids[0]}")
    assert attempt.status_code == 250 and "queued as" in (attempt.response or "")
    assert attempt.message_id == f"<{event.id}.{ids[0]}@daegu.go.kr>"
    assert attempt.endpoint == channel.ctx.settings.smtp_url
    message = parse(smtp.to("r0@example.org")[0].raw)
    assert message["Message-ID"] == attempt.message_id


def test_each_subscriber_gets_the_newsletter_in_their_language(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    korean = [add_subscriber(db, f"ko{n}@example.org") for n in range(2)]
    english = add_subscriber(db, "en@example.org")
    with db.session() as session:
        session.execute(update(Subscriber).where(Subscriber.id == english).values(language="en"))
    send_event(db, channel, publish(db, 1))
    assert ledger(db) == {f"subscriber:{n}": "succeeded" for n in (*korean, english)}
    for address, language, chrome in (
        ("ko0@example.org", "ko", "전문 보기"),
        ("ko1@example.org", "ko", "전문 보기"),
        ("en@example.org", "en", "Full release"),
    ):
        message = parse(smtp.to(address)[0].raw)
        assert message["Content-Language"] == language
        text = message.get_body(("plain",)).get_content()
        assert re.search(rf"^{chrome} \[\d+\]\r?$", text, re.M), text
    # The release's own text is the same in both.
    titles = {
        str(parse(smtp.to(a)[0].raw)["Subject"]) for a in ("ko0@example.org", "en@example.org")
    }
    assert len(titles) == 1


def test_451_is_retried_later_and_then_succeeds(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    sid = add_subscriber(db, "busy@example.org")
    smtp.reply_to("busy@example.org", "451 4.3.0 please try again later")
    ids = send_event(db, channel, publish(db, 1))
    assert ledger(db) == {f"subscriber:{sid}": "pending"}
    (first,) = attempts_of(db, f"subscriber:{sid}")
    assert (first.outcome, first.status_code, first.error_class) == (
        "retrying",
        451,
        "E_SMTP_TEMPORARY",
    )
    delay = (first.next_attempt_at - first.started_at).total_seconds()
    assert 60 * 0.8 <= delay <= 60 * 1.2 + 5, "the first delay of the schedule, jittered"
    with db.session() as session:  # time passes
        session.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    run_due(db, channel, ids)
    assert ledger(db) == {f"subscriber:{sid}": "succeeded"}
    assert len(smtp.to("busy@example.org")) == 1


def test_the_retry_schedule_is_the_operators(
    db: Database, tmp_path: Path, smtp: MailServer, database_url: str
) -> None:
    """SYNDICATOR_MAIL_RETRY_SCHEDULE spaces the retries of a mailbox's temporary refusal."""
    config = mail_settings(
        tmp_path,
        SYNDICATOR_SMTP_URL=smtp.url,
        SYNDICATOR_DATABASE_URL=database_url,
        SYNDICATOR_MAIL_RETRY_SCHEDULE="2,7",
    )
    channel = EmailChannel(ChannelContext(settings=config, db=db))
    try:
        sid = add_subscriber(db, "busy@example.org")
        smtp.reply_to("busy@example.org", "451 4.2.1 mailbox busy, try later")
        send_event(db, channel, publish(db, 1))
    finally:
        channel.close()
    (first,) = attempts_of(db, f"subscriber:{sid}")
    assert (first.outcome, first.status_code) == ("retrying", 451)
    delay = (first.next_attempt_at - first.started_at).total_seconds()
    assert 2 * 0.8 <= delay <= 2 * 1.2 + 1, "the first delay of the operator's schedule"
    assert channel.retry_delays(f"subscriber:{sid}") == (2.0, 7.0)


def test_a_server_refusing_all_mail_is_reported_until_mail_goes_through(
    db: Database, mail_config: Settings, smtp: MailServer, redis_url: str
) -> None:
    """A 421 (the whole server) is signalled for readiness; a 451 (one mailbox) is not."""
    client = redis.Redis.from_url(redis_url)
    channel = EmailChannel(ChannelContext(settings=mail_config, db=db, redis=client))

    def time_passes() -> None:
        with db.session() as session:
            session.execute(
                update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )

    try:
        add_subscriber(db, "busy@example.org")
        smtp.reply_to("busy@example.org", "451 4.7.1 greylisted", at="rcpt")
        smtp.reply_to("busy@example.org", "421 4.3.2 shutting down", at="rcpt")
        event = publish(db, 1)
        ids = send_event(db, channel, event)
        assert mail_deferred(client) is None
        time_passes()
        run_due(db, channel, ids)
        assert mail_deferred(client) == "421 4.3.2 shutting down"
        time_passes()
        run_due(db, channel, ids)
        assert ledger(db, event.id) == {"subscriber:1": "succeeded"}
        assert mail_deferred(client) is None
    finally:
        channel.close()
        client.close()


def test_each_message_leaves_from_its_own_signed_envelope_sender(
    db: Database, mail_config: Settings, smtp: MailServer
) -> None:
    settings = mail_config.with_(bounce_address="bounces@news.example.kr")
    channel = EmailChannel(ChannelContext(settings=settings, db=db))
    try:
        ids = [add_subscriber(db, f"r{n}@example.org") for n in range(2)]
        send_event(db, channel, publish(db, 1))
    finally:
        channel.close()
    with db.session() as session:
        deliveries = {d.target: d.id for d in session.scalars(select(Delivery))}
    for sid in ids:
        (received,) = smtp.to(f"r{sid - ids[0]}@example.org")
        tag = tag_of_address(settings, received.sender)
        assert tag is not None, received.sender
        named = read_tag(settings, tag)
        assert named == VerpIds(deliveries[f"subscriber:{sid}"], sid)
        # The From header stays the sender's; only the envelope changes.
        assert "bounces+" not in parse(received.raw)["From"]


def test_without_a_bounce_address_the_envelope_is_the_from_address(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    add_subscriber(db, "r@example.org")
    send_event(db, channel, publish(db, 1))
    (received,) = smtp.received
    assert received.sender == "noreply@daegu.go.kr"


def test_550_511_suppresses_the_address(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    gone = add_subscriber(db, "gone@example.org")
    fine = add_subscriber(db, "fine@example.org")
    smtp.reply_to(
        "gone@example.org", "550 5.1.1 <gone@example.org>: Recipient address rejected", at="rcpt"
    )
    send_event(db, channel, publish(db, 1))
    assert ledger(db) == {f"subscriber:{gone}": "suppressed", f"subscriber:{fine}": "succeeded"}
    with db.session() as session:
        subscriber = session.get(Subscriber, gone)
        assert subscriber is not None
        assert subscriber.status == "suppressed" and "5.1.1" in (subscriber.suppressed_reason or "")
    # No further mail to it.
    send_event(db, channel, publish(db, 2))
    assert ledger(db)[f"subscriber:{fine}"] == "succeeded"
    assert len(smtp.to("fine@example.org")) == 2 and smtp.to("gone@example.org") == []


def test_policy_refusal_fails_for_operators(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    sid = add_subscriber(db, "blocked@example.org")
    smtp.reply_to("blocked@example.org", "554 5.7.1 message refused by policy")
    send_event(db, channel, publish(db, 1))
    assert ledger(db) == {f"subscriber:{sid}": "failed"}
    (attempt,) = attempts_of(db, f"subscriber:{sid}")
    assert (attempt.status_code, attempt.error_class) == (554, "E_SMTP_POLICY")
    with db.session() as session:
        assert session.get(Subscriber, sid).status == "active"  # people are not dropped


def test_someone_who_left_after_planning_is_not_mailed(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    sid = add_subscriber(db, "leaving@example.org")
    queued: list[Enqueue] = []
    plan_event(db, {"email": channel}, publish(db, 1), queued.append)
    with db.session() as session:
        session.execute(update(Subscriber).values(status="unsubscribed"))
    run_due(db, channel, [i for item in queued for i in item.delivery_ids])
    assert ledger(db) == {f"subscriber:{sid}": "suppressed"}
    assert attempts_of(db, f"subscriber:{sid}")[0].error_class == "E_UNSUBSCRIBED"
    assert smtp.received == []


def test_unreachable_server_defers_without_spending_attempts(
    db: Database, tmp_path: Path, database_url: str
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = mail_settings(
        tmp_path,
        SYNDICATOR_SMTP_URL=f"smtp://127.0.0.1:{port}",
        SYNDICATOR_DATABASE_URL=database_url,
    )
    channel = EmailChannel(ChannelContext(settings=config, db=db))
    for n in range(20):
        add_subscriber(db, f"r{n}@example.org")
    before = utcnow()
    send_event(db, channel, publish(db, 1))
    channel.close()
    assert set(ledger(db).values()) == {"pending"}
    with db.session() as session:
        rows = session.execute(select(Delivery.attempts, Delivery.next_attempt_at)).all()
    # Every row waits for the server, due again once a connection's rest is over; none of
    # them spent an attempt, and none is in the attempt log.
    assert [attempts for attempts, _ in rows] == [0] * 20
    assert all(due is not None and due > before for _, due in rows)
    assert attempts_of(db, "subscriber:1") == []


def test_the_shared_rate_limit_defers_what_it_cannot_send_now(
    db: Database, tmp_path: Path, database_url: str, redis_url: str, smtp: MailServer
) -> None:
    import redis

    config = mail_settings(
        tmp_path,
        SYNDICATOR_SMTP_URL=smtp.url,
        SYNDICATOR_DATABASE_URL=database_url,
        SYNDICATOR_MAIL_RATE_PER_S="0.1",  # one message per 10 s across every process
    )
    client = redis.Redis.from_url(redis_url)

    class NoWait(EmailChannel):
        rate_wait_seconds = 0.0

    # Two channels: two worker processes sharing one limit through Redis.
    first, second = (NoWait(ChannelContext(settings=config, db=db, redis=client)) for _ in "ab")
    ids = [add_subscriber(db, f"r{n}@example.org") for n in range(2)]
    queued: list[Enqueue] = []
    plan_event(db, {"email": first}, publish(db, 1), queued.append)
    (row_a, row_b) = [i for item in queued for i in item.delivery_ids]
    run_due(db, first, [row_a])
    run_due(db, second, [row_b])
    assert ledger(db) == {f"subscriber:{ids[0]}": "succeeded", f"subscriber:{ids[1]}": "pending"}
    assert len(smtp.received) == 1
    assert attempts_of(db, f"subscriber:{ids[1]}") == [], "deferred: no attempt spent"
    first.close(), second.close()
    client.close()


def test_a_rate_redis_cannot_tell_defers_rather_than_sends(
    db: Database, tmp_path: Path, database_url: str, smtp: MailServer
) -> None:
    """Redis away (a failover under way): the shared rate is unknown, so nothing is sent
    past it; the row is back to pending, due again in a second, no attempt spent."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from tests.services import free_port

    config = mail_settings(
        tmp_path,
        SYNDICATOR_SMTP_URL=smtp.url,
        SYNDICATOR_DATABASE_URL=database_url,
        SYNDICATOR_MAIL_RATE_PER_S="100",
    )
    nobody = redis.Redis(port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    channel = EmailChannel(ChannelContext(settings=config, db=db, redis=nobody))
    subscriber = add_subscriber(db, "r@example.org")
    send_event(db, channel, publish(db, 1))
    assert ledger(db) == {f"subscriber:{subscriber}": "pending"}
    assert smtp.received == []
    assert attempts_of(db, f"subscriber:{subscriber}") == [], "deferred: no attempt spent"
    channel.close()
    nobody.close()


@pytest.mark.skipif(not Path("/usr/sbin/smtp-sink").exists(), reason="needs postfix's smtp-sink")
def test_a_connection_lost_after_data_leaves_the_row_uncertain(
    db: Database, tmp_path: Path, database_url: str
) -> None:
    from tests.unit.mail.test_pipelining import sink

    with sink(tmp_path, "-q", ".") as transport:  # hangs up instead of answering the dot
        config = mail_settings(
            tmp_path,
            SYNDICATOR_SMTP_URL=f"smtp://127.0.0.1:{transport.port}",
            SYNDICATOR_DATABASE_URL=database_url,
        )
        channel = EmailChannel(ChannelContext(settings=config, db=db))
        sid = add_subscriber(db, "maybe@example.org")
        send_event(db, channel, publish(db, 1))
        channel.close()
    assert ledger(db) == {f"subscriber:{sid}": "uncertain"}, "never resent by itself"
    (attempt,) = attempts_of(db, f"subscriber:{sid}")
    assert attempt.error_class == "E_SMTP_UNCERTAIN" and attempt.next_attempt_at is None


def test_significant_is_an_optional_strict_boolean() -> None:
    from pydantic import ValidationError

    from syndicator.events.schema import CmsEvent
    from tests.factories import make_event

    assert CmsEvent.model_validate(make_event(1)).significant is False
    marked = make_event(1, type="release.updated")
    marked["significant"] = True
    assert CmsEvent.model_validate(marked).significant is True
    for wrong in ("true", 1, None):
        marked["significant"] = wrong
        with pytest.raises(ValidationError, match="significant"):
            CmsEvent.model_validate(marked)
