"""publish → relay → a real Celery worker on real Redis → the feed contains the release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import feedparser
import redis
from sqlalchemy import func, select

from syndicator.intake.outbox import backlog
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.store import documents
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, OutboxEntry
from tests.factories import make_event
from tests.services import OWNER_KEY
from tests.system import RunningSystem, system_env, wait_for


def feed_titles(system: RunningSystem) -> list[str]:
    answer = system.get("/feeds/rss.xml")
    if answer.status_code != 200:
        return []
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.bozo_exception
    return [entry.title for entry in parsed.entries]


def test_published_release_reaches_the_feed_through_a_real_worker(system, database_url):
    event = make_event(867)
    answer = system.publish(event)
    assert answer.status_code == 202, answer.text
    title = event["release"]["title"]
    wait_for(lambda: title in feed_titles(system), what="the release in rss.xml")
    with Database(database_url) as database:

        def feeds_delivery() -> Delivery | None:
            with database.session() as session:
                return session.scalars(
                    select(Delivery).where(Delivery.channel == "feeds")
                ).one_or_none()

        # The file is renamed into place before the worker records the outcome,
        # so the ledger can lag the feed by a moment.
        wait_for(
            lambda: (row := feeds_delivery()) is not None and row.status == "succeeded",
            what="the feeds delivery marked succeeded",
        )
        delivery = feeds_delivery()
        assert delivery is not None and delivery.event_id == answer.json()["event_id"]
        with database.session() as session:
            attempts = session.scalars(select(DeliveryAttempt)).all()
            assert [a.outcome for a in attempts] == ["succeeded"]
        assert backlog(database)[0] == 0
    assert "event relayed" in system.log() and "delivery attempt" in system.log()


def test_event_accepted_during_redis_outage_goes_out_when_redis_returns(
    tmp_path: Path, sqlite_url: str, cms_secret: str
):
    redis_dir = tmp_path / "redis"
    server = EmbeddedRedis(redis_dir, redis_dir / "redis.sock")
    running = RunningSystem(
        system_env(tmp_path, sqlite_url, server.start(), cms_secret), tmp_path / "system.log"
    )
    try:
        running.start()
        server.stop()
        event = make_event(700, title="레디스가 멈춘 동안 접수된 보도자료")
        answer = running.publish(event)
        assert answer.status_code == 202 and answer.json()["queued"]
        assert running.get("/readyz").status_code == 503
        with Database(sqlite_url) as database:
            assert backlog(database)[0] == 1
        server.start()
        wait_for(
            lambda: event["release"]["title"] in feed_titles(running),
            120,
            "the release accepted during the outage to reach the feed",
        )
        wait_for(running.ready, 60, "readiness after Redis returned")
    finally:
        running.stop()
        server.stop()


def test_backfill_fills_the_feeds_and_sends_nothing(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
):
    env = system_env(tmp_path, database_url, redis_url, cms_secret)
    demo = Path(__file__).resolve().parents[2] / "demo" / "releases"

    def import_demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syndicator", "import", str(demo)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )

    result = import_demo()
    assert result.returncode == 0, result.stderr + result.stdout
    with Database(database_url) as database, database.session() as session:
        rss = documents.load(session, "rss.xml")  # what every web node serves
        assert rss is not None
        parsed = feedparser.parse(rss.body)
        assert not parsed.bozo and len(parsed.entries) == 20
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 0
    client = redis.Redis.from_url(redis_url)
    assert set(client.keys()) <= {OWNER_KEY.encode()}  # nothing was queued
    client.close()
    again = import_demo()
    assert again.returncode == 0, again.stderr
