"""`syndicator run` started again on the data a crash left behind: the claims of the
workers of the last run come back before any worker starts, not a heartbeat later, and a
fan-out its broker lost goes out again at once, not a visibility timeout later."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select, update

from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.ledger.claimers import WORKER_LOST
from syndicator.ledger.claims import claim
from syndicator.ledger.targets import ensure_deliveries
from syndicator.runtime.liveness import LivenessBeat, ProcessIdentity
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import DeliveryAttempt, OutboxEntry, utcnow
from tests.factories import make_event
from tests.system import RunningSystem, stored_document, system_env, wait_for
from tests.unit.runtime.test_liveness import _identity_of

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process keys come from /proc"
)


def _claimed_by_a_dead_worker(db: Database, event_id: str) -> ProcessIdentity:
    """What a power cut leaves: the last run's worker, gone, holding the feeds delivery
    it was rendering, with a heartbeat as fresh as the cut."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        doomed = LivenessBeat(db, _identity_of(process.pid), every=3600)
        doomed.register()
        with db.session() as session:
            ids = ensure_deliveries(session, event_id, "feeds", ["site"])
        with db.session() as session:
            assert claim(session, ids, doomed.identity.id)
    finally:
        process.kill()
        process.wait()
    return doomed.identity


def _in_feed(database_url: str, event: dict) -> bool:
    feed = stored_document(database_url)
    return event["release"]["title"] in [e.title for e in feedparser.parse(feed or b"").entries]


def test_a_restart_releases_the_claims_of_the_last_runs_workers_first(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    upgrade(sqlite_url)
    event = make_event(560, title="정전 뒤 다시 켜자마자 나가는 보도자료")
    with Database(sqlite_url) as db:
        accepted = accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_restart")
        dead = _claimed_by_a_dead_worker(db, accepted.event_id)
    # The heartbeat threshold is an hour here: only the start-up release can free the row.
    env = system_env(
        tmp_path, sqlite_url, redis_url, cms_secret, SYNDICATOR_WORKER_STALE_SECONDS="3600"
    )
    system = RunningSystem(env, tmp_path / "system.log")
    try:
        system.start()

        wait_for(lambda: _in_feed(sqlite_url, event), 60, "the released delivery to be rendered")
        log = system.log_path.read_text(errors="replace")
        released = log.index("claims of a lost worker released")
        assert f"worker={dead.id}" in log[released:].splitlines()[0]
        assert "reason=gone" in log[released:].splitlines()[0]
        assert released < log.index("process=worker"), "released before the workers start"
        with Database(sqlite_url) as db, db.session() as session:
            (lost,) = session.scalars(
                select(DeliveryAttempt).where(DeliveryAttempt.error_class == WORKER_LOST)
            )
            assert "no longer running" in (lost.detail or "")
    finally:
        system.stop()


def test_a_restart_relays_again_a_fan_out_the_last_runs_broker_lost(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    upgrade(sqlite_url)
    event = make_event(561, title="정전 때 브로커와 함께 사라진 팬아웃")
    with Database(sqlite_url) as db:
        accepted = accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_relayed")
        with db.session() as session:  # relayed, and lost with the broker: never fanned out
            session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.event_id == accepted.event_id)
                .values(relayed_at=utcnow())
            )
    # The production visibility timeout: the sweeper would resend it 15 minutes later.
    env = system_env(tmp_path, sqlite_url, redis_url, cms_secret)
    system = RunningSystem(env, tmp_path / "system.log")
    try:
        system.start()

        wait_for(lambda: _in_feed(sqlite_url, event), 60, "the lost fan-out to run and be rendered")
        assert "unplanned events relayed again" in system.log_path.read_text(errors="replace")
    finally:
        system.stop()
