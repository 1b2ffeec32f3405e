"""Bounce and complaint rates from real sending: the messages a newsletter sent are
counted as a real SMTP server answers them, reports written as the recording rules would
leave them reach /metrics and the console, and beat's check pauses the newsletters past
the complaint limit (a real worker and beat), which ``syndicator status`` explains."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.config import Settings, load_settings
from syndicator.delivery.runner import Enqueue, plan_event, run_due
from syndicator.ops.actions import paused_channels
from syndicator.ops.complaint_guard import GUARD_ACTOR
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, NewsletterSend
from syndicator.web.app import create_app
from tests.bounce_reports import arf_complaint
from tests.feedback_support import add_delivery, add_feedback, add_newsletter
from tests.integration.test_metrics import TOKEN, scrape, value
from tests.live_server import serve
from tests.mail_server import running_mail_server
from tests.newsletter_support import add_subscriber, add_subscribers, publish
from tests.processes import CeleryProcesses
from tests.system import run_cli, system_env, wait_for


def _newsletter(db: Database, settings: Settings, release_id: int) -> str:
    channel = EmailChannel(ChannelContext(settings=settings, db=db))
    queued: list[Enqueue] = []
    event = publish(db, release_id)
    plan_event(db, {"email": channel}, event, queued.append)
    run_due(db, channel, [i for item in queued for i in item.delivery_ids])
    channel.close()
    return event.id


def _delivery_of(db: Database, event_id: str, subscriber_id: int) -> int:
    with db.read_session() as session:
        found = session.scalar(
            select(Delivery.id).where(
                Delivery.event_id == event_id, Delivery.target == f"subscriber:{subscriber_id}"
            )
        )
    assert found is not None
    return found


def test_a_sent_newsletters_reports_reach_the_metrics(app_settings: Settings, store: Database):
    add_subscribers(store, 38)
    gone = add_subscriber(store, "gone@example.org")
    complainer = add_subscriber(store, "angry@example.org")
    with running_mail_server() as smtp:
        smtp.reply_to("gone@example.org", "550 5.1.1 no such user", at="rcpt")
        settings = app_settings.with_(smtp_url=smtp.url)
        event_id = _newsletter(store, settings, 1)
        assert len(smtp.received) == 39
    with store.read_session() as session:
        (sends,) = session.scalars(select(NewsletterSend))
    assert (sends.event_id, sends.sent) == (event_id, 40), "the refused one was sent too"
    with store.session() as session:
        add_feedback(session, _delivery_of(store, event_id, gone), "hard_bounce", source="smtp")
        add_feedback(session, _delivery_of(store, event_id, complainer), "complaint")
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        samples = scrape(http, TOKEN)
    assert value(samples, "syndicator_newsletter_messages_sent_7d") == 40
    assert value(samples, "syndicator_newsletter_feedback_7d", kind="complaint") == 1
    assert value(samples, "syndicator_newsletter_feedback_rate_7d", kind="complaint") == 0.025
    assert value(samples, "syndicator_newsletter_feedback_rate_7d", kind="hard_bounce") == 0.025
    assert value(samples, "syndicator_newsletter_feedback_rate_7d", kind="soft_bounce") == 0
    assert value(samples, "syndicator_newsletter_latest_messages_sent") == 40
    assert value(samples, "syndicator_newsletter_latest_feedback_rate", kind="complaint") == 0.025


@pytest.mark.slow
def test_beat_pauses_newsletters_past_the_complaint_limit(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    """The check runs in beat's schedule (every minute by default; every second here) on a
    real worker."""
    upgrade(sqlite_url)
    env = system_env(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        SYNDICATOR_ADMIN_TOKEN=TOKEN,
        SYNDICATOR_COMPLAINT_PAUSE_MIN_SENT="200",
        SYNDICATOR_COMPLAINT_CHECK_SECONDS="1",
    )
    with Database(sqlite_url) as db:
        with db.session() as session:
            add_newsletter(session, "evt_loud", sent=300)
            for n in range(1, 3):  # 2 in 300: 0.67 %
                add_feedback(session, add_delivery(session, "evt_loud", n), "complaint")
        processes = CeleryProcesses(env, tmp_path)
        try:
            processes.worker("guard", ["events"])
            processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
            pause = wait_for(
                lambda: paused_channels(db).get("email"), 180, "the newsletters to pause"
            )
        finally:
            processes.stop_all()
    assert pause.paused_by == GUARD_ACTOR
    assert pause.reason and "0.67%" in pause.reason and "300통 중 2건" in pause.reason
    status = run_cli("status", **{**env, "SYNDICATOR_DATA_DIR": str(tmp_path / "cli")})
    assert status.returncode == 0, status.stderr
    assert f"email paused: {pause.reason}" in status.stdout
    assert load_settings(env).complaint_pause_min_sent == 200


def test_a_piped_complaint_pauses_the_newsletters_at_once(
    app_settings: Settings, store: Database, tmp_path: Path
):
    """``syndicator bounces ingest`` checks the rate once a complaint is kept: no waiting
    for beat's next minute."""
    add_subscribers(store, 19)
    add_subscriber(store, "angry@example.org")
    with running_mail_server() as smtp:
        _newsletter(store, app_settings.with_(smtp_url=smtp.url), 1)
        (mail,) = smtp.to("angry@example.org")
    report = tmp_path / "complaint.eml"
    report.write_bytes(arf_complaint("angry@example.org", mail.raw))
    assert paused_channels(store) == {}
    result = run_cli(
        "bounces",
        "ingest",
        str(report),
        SYNDICATOR_DATA_DIR=str(app_settings.data_dir),
        SYNDICATOR_DATABASE_URL=app_settings.database_url,
        SYNDICATOR_TOKEN_KEYS=" ".join(app_settings.token_keys),
        SYNDICATOR_COMPLAINT_PAUSE_MIN_SENT="20",
    )
    assert result.returncode == 0, result.stderr
    pause = paused_channels(store)["email"]
    assert pause.paused_by == GUARD_ACTOR
    assert pause.reason and "20통 중 1건" in pause.reason
