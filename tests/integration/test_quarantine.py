"""One release that fails to render fails alone: quarantined, left out, shown, retried.

The test-only fault is a release stored with an empty title, as a version of the intake
without today's bounds stored it: feedgen refuses to render it ("Required fields not set").
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import select

from syndicator.config import Settings
from syndicator.events.schema import CmsEvent
from syndicator.feeds.publish import publish_changes, rebuild_all
from syndicator.intake.accept import new_event_id, store_event
from syndicator.ledger.quarantine import list_quarantined
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, Event, Quarantine
from tests.integration.feeds_support import atom_ids, event, parsed_feed, store, walk_archives
from tests.system import RunningSystem, run_cli, system_env, wait_for

BAD = 7


def store_unrenderable(db: Database, document: dict[str, Any], *, enqueue: bool = False) -> str:
    """Store a release the renderer refuses, bypassing today's validation."""
    valid = CmsEvent.model_validate(document)
    broken = valid.model_copy(update={"release": valid.release.model_copy(update={"title": ""})})
    with db.session() as session:
        result = store_event(
            session, broken, webhook_id=new_event_id(), source="hook", enqueue=enqueue
        )
    return result.event_id


def held(db: Database) -> dict[int, str]:
    with db.session() as session:
        return {q.release_id: q.error_class for q in list_quarantined(session)}


@pytest.fixture
def feeds(settings: Settings) -> Settings:
    return settings.with_(feed_size=5)


def test_a_release_that_fails_to_render_does_not_stop_the_others(db: Database, feeds: Settings):
    store(db, [event(n) for n in range(1, 4)])
    store_unrenderable(db, event(BAD))
    ids = store(db, [event(n) for n in range(10, 20)])
    publish_changes(db, feeds, [BAD, *ids])
    assert held(db) == {BAD: "ValueError"}
    live = atom_ids(feeds.feeds_export_dir / "atom.xml")
    assert live == sorted(ids, reverse=True)[:5]
    every = walk_archives(feeds)
    assert BAD not in every and sorted(every) == [1, 2, 3, *ids]
    # Later publishes are not held up by it.
    (later,) = store(db, [event(30)])
    publish_changes(db, feeds, [later])
    assert atom_ids(feeds.feeds_export_dir / "atom.xml")[0] == later
    # An update is a new chance: it lifts the quarantine, and the release renders.
    store(db, [event(BAD, type="release.updated", updated_at=event(40)["release"]["published_at"])])
    assert held(db) == {}
    publish_changes(db, feeds, [BAD])
    assert held(db) == {}
    assert BAD in walk_archives(feeds)


def test_rebuild_quarantines_a_bad_archived_release_and_renders_everything_else(
    db: Database, feeds: Settings
):
    store(db, [event(n) for n in range(1, 30) if n != BAD])
    store_unrenderable(db, event(BAD))  # old enough to sit in an archive month
    changed = rebuild_all(db, feeds)
    assert changed and held(db) == {BAD: "ValueError"}
    every = walk_archives(feeds)
    assert sorted(every) == [n for n in range(1, 30) if n != BAD]
    for path in feeds.feeds_export_dir.rglob("*.xml"):
        parsed_feed(path)
    # Quarantined releases stay out of later rebuilds without being probed again.
    assert rebuild_all(db, feeds) == []


# --- end to end, through a real worker ---------------------------------------------------


@pytest.fixture
def system(tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str) -> Iterator[Any]:
    running = RunningSystem(
        system_env(tmp_path, sqlite_url, redis_url, cms_secret), tmp_path / "system.log"
    )
    try:
        yield running.start()
    finally:
        running.stop()


def rss_numbers(system: RunningSystem) -> set[int]:
    answer = system.get("/feeds/rss.xml")
    if answer.status_code != 200:
        return set()
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.bozo_exception
    return {int(e.id.rsplit("/", 1)[1]) for e in parsed.entries}


def cli(system: RunningSystem, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, **system.env)


def feeds_deliveries(db: Database, event_id: str) -> list[Delivery]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.event_id == event_id, Delivery.channel == "feeds")
            )
        )


def test_quarantine_end_to_end(system: RunningSystem, sqlite_url: str):
    with Database(sqlite_url) as db:
        bad_event = store_unrenderable(db, event(BAD), enqueue=True)  # the relay polls for it
        ordinary = [event(n) for n in range(100, 110)]
        for document in ordinary:
            assert system.publish(document).status_code == 202
        wanted = {100 + n for n in range(10)}
        wait_for(lambda: wanted <= rss_numbers(system), what="the 10 publishes in rss.xml")
        wait_for(lambda: BAD in held(db), what="the bad release quarantined")
        assert BAD not in rss_numbers(system)

        def failed_delivery() -> Delivery | None:
            rows = feeds_deliveries(db, bad_event)
            return rows[0] if rows and rows[0].status == "failed" else None

        delivery = wait_for(failed_delivery, what="the bad release's delivery to fail")
        with db.session() as session:
            attempt = session.scalars(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)
            ).one()
        assert attempt.error_class == "ValueError" and "quarantined" in (attempt.detail or "")

        status = json.loads(cli(system, "status", "--json").stdout)
        assert status["quarantined_total"] == 1
        assert status["quarantined"][0]["release_id"] == BAD
        listed = cli(system, "releases", "quarantined", "--json")
        assert [r["release_id"] for r in json.loads(listed.stdout)] == [BAD]
        assert "release quarantined" in system.log_path.read_text()

        # rebuild-feeds skips it, reports it, and exits 0.
        rebuilt = cli(system, "rebuild-feeds")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "Quarantined releases" in rebuilt.stdout and str(BAD) in rebuilt.stdout

        # An operator's retry goes through the worker again (and fails again, honestly).
        retried = cli(system, "releases", "retry", str(BAD))
        assert retried.returncode == 0 and "queued" in retried.stdout, retried.stderr
        wait_for(
            lambda: any(
                d.attempts == 2 and d.status == "failed" for d in feeds_deliveries(db, bad_event)
            ),
            what="the retried delivery to run",
        )
        assert BAD in held(db)

        # A correcting update from the CMS lifts the quarantine and the release appears.
        fixed = event(BAD, type="release.updated", updated_at=event(120)["release"]["published_at"])
        assert system.publish(fixed).status_code == 202
        wait_for(lambda: BAD in rss_numbers(system), what="the corrected release in rss.xml")
        assert held(db) == {}
        with db.session() as session:
            assert not session.scalars(select(Quarantine)).all()
            assert session.scalar(select(Event.outcome).where(Event.id == bad_event)) == "applied"
