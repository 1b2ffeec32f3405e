"""Daily and weekly digests: only what is new, each item once, through a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.delivery.runner import Enqueue, load_event, plan_event, run_due
from syndicator.mail.digests import due_period, due_runs, mark_run_planned
from syndicator.mail.views import KST
from syndicator.store.db import Database
from syndicator.store.models import Subscriber, utcnow
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import add_subscriber, ledger, publish
from tests.unit.mail.support import assert_wire_format, mail_settings, parse


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def channel(
    db: Database, tmp_path: Path, smtp: MailServer, database_url: str
) -> Iterator[EmailChannel]:
    config = mail_settings(
        tmp_path, SYNDICATOR_SMTP_URL=smtp.url, SYNDICATOR_DATABASE_URL=database_url
    )
    made = EmailChannel(ChannelContext(settings=config, db=db))
    yield made
    made.close()


def run_digests(db: Database, channel: EmailChannel, now: datetime) -> list[str]:
    """What the beat task does, at ``now``: plan what is due, then deliver it."""
    planned = []
    for event_id in due_runs(db, 8, now):
        event = load_event(db, event_id)
        assert event is not None
        queued: list[Enqueue] = []
        plan_event(db, {"email": channel}, event, queued.append)
        mark_run_planned(db, event.id)
        run_due(db, channel, [i for item in queued for i in item.delivery_ids])
        planned.append(event.id)
    return planned


def test_a_daily_digest_with_three_releases_then_nothing_until_something_is_new(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    reader = add_subscriber(db, "daily@example.org", mode="daily")
    elsewhere = add_subscriber(db, "traffic@example.org", mode="daily", departments=["교통정책과"])
    add_subscriber(db, "now@example.org")  # immediate: never in a digest
    titles = [publish(db, n).payload["release"]["title"] for n in (1, 2, 3)]
    publish(db, 4, source="import")  # backfill is not news
    later = utcnow() + timedelta(minutes=2)  # past the settling minute

    runs = run_digests(db, channel, later)
    day = due_period("daily", later, 8)
    assert f"digest-daily-{day:%Y%m%d}" in runs
    assert ledger(db) == {f"subscriber:{reader}": "succeeded"}
    (received,) = smtp.to("daily@example.org")
    assert_wire_format(received.raw)
    message = parse(received.raw)
    assert message["Subject"].endswith("보도자료 3건")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    positions = [text.index(title) for title in titles]
    assert positions == sorted(positions), "in publishing order"
    assert all(title in html for title in titles)
    assert "(4)" not in text
    assert smtp.to("traffic@example.org") == []
    assert f"subscriber:{elsewhere}" not in ledger(db), "no digest when nothing is new"

    # Planned once: the beat firing again changes nothing.
    assert run_digests(db, channel, later + timedelta(minutes=5)) == []
    # The next day, with nothing new: no digest at all.
    run_digests(db, channel, later + timedelta(days=1))
    assert len(smtp.to("daily@example.org")) == 1
    # Something new: the next digest holds it alone.
    fifth = publish(db, 5).payload["release"]["title"]
    run_digests(db, channel, utcnow() + timedelta(days=2, minutes=2))
    last = parse(smtp.to("daily@example.org")[-1].raw)
    assert len(smtp.to("daily@example.org")) == 2
    assert last["Subject"].endswith("보도자료 1건")
    body = last.get_body(("plain",)).get_content()
    assert fifth in body and not any(title in body for title in titles)
    with db.session() as session:
        marker = session.get(Subscriber, reader).digest_marker
        assert marker is not None and marker >= 5


def test_a_failed_digest_moves_no_marker_and_its_retry_repeats_nothing(
    db: Database, channel: EmailChannel, smtp: MailServer
) -> None:
    reader = add_subscriber(db, "daily@example.org", mode="daily")
    publish(db, 1)
    smtp.reply_to("daily@example.org", "451 4.3.0 later")
    run_digests(db, channel, utcnow() + timedelta(minutes=2))
    with db.session() as session:
        assert session.get(Subscriber, reader).digest_marker is None
    # Next day's run includes the item (the marker never moved), exactly once.
    publish(db, 2)
    run_digests(db, channel, utcnow() + timedelta(days=1, minutes=2))
    (digest,) = smtp.to("daily@example.org")
    assert parse(digest.raw)["Subject"].endswith("보도자료 2건")


def test_weekly_runs_on_mondays_at_the_digest_hour() -> None:
    monday_9 = datetime(2026, 11, 30, 9, 0, tzinfo=KST)  # a Monday
    assert due_period("weekly", monday_9, 8).isoformat() == "2026-11-30"
    assert due_period("weekly", monday_9.replace(hour=7), 8).isoformat() == "2026-11-23"
    assert due_period("weekly", monday_9 + timedelta(days=3), 8).isoformat() == "2026-11-30"
    assert due_period("daily", monday_9.replace(hour=7), 8).isoformat() == "2026-11-29"
    assert (
        due_period("daily", datetime(2026, 11, 29, 23, 30, tzinfo=UTC), 8).isoformat()
        == "2026-11-30"
    )
