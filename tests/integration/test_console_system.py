"""Pause and resume a channel through the console while the whole system runs: the
fan-out, the deliver tasks and beat's sweeper all pass the paused rows by, and on resume
every one is delivered once (a real partner, aiohttp)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from syndicator.store.db import Database
from syndicator.store.models import Delivery, Event, utcnow
from tests.factories import make_event
from tests.integration.webhook_receiver import receiver
from tests.system import RunningSystem, system_env, wait_for

ADMIN = {"Authorization": "Bearer admin-token-for-tests", "X-Operator": "system-test"}
# Past this age the sweeper takes a fresh row whose task was lost (ledger.due_for_retry),
# plus a few sweeps (every 5 s): a paused row still pending then was passed by.
SWEEPER_TAKES_FRESH_ROWS_AFTER = 30 + 3 * 5


def _rows(db: Database, release_id: int) -> dict[str, Delivery]:
    with db.session() as session:
        events = select(Event.id).where(Event.release_id == release_id)
        rows = session.scalars(select(Delivery).where(Delivery.event_id.in_(events)))
        found = {row.channel: row for row in rows}
        session.expunge_all()
    return found


def test_a_paused_channel_waits_and_delivers_everything_on_resume(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    env = system_env(
        tmp_path, sqlite_url, redis_url, cms_secret,
        SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
    )  # fmt: skip
    with receiver() as site, Database(sqlite_url) as db:
        system = RunningSystem(env, tmp_path / "system.log").start()
        try:
            act = f"{system.url}/ops/actions"
            created = system.http.post(
                f"{system.url}/api/partners",
                json={"name": "연합뉴스", "url": site.url("a")},
                headers=ADMIN,
            )
            assert created.status_code == 201, created.text
            paused = system.http.post(
                f"{act}/pause", data={"target": "webhooks", "confirm": "yes"}, headers=ADMIN
            )
            assert paused.status_code == 200, paused.text
            assert system.publish(make_event(801)).status_code == 202

            def feeds_done() -> dict[str, Delivery] | None:
                rows = _rows(db, 801)
                feeds = rows.get("feeds")
                return (
                    rows if feeds and feeds.status == "succeeded" and "webhooks" in rows else None
                )

            rows = wait_for(feeds_done, 90, "the feeds delivery, with webhooks planned")
            planned_at = rows["webhooks"].created_at
            wait_for(
                lambda: (
                    (utcnow() - planned_at).total_seconds() > SWEEPER_TAKES_FRESH_ROWS_AFTER or None
                ),
                SWEEPER_TAKES_FRESH_ROWS_AFTER + 30,
                "the sweeper to have passed the paused row by",
            )
            waiting = _rows(db, 801)["webhooks"]
            assert (waiting.status, waiting.attempts) == ("pending", 0)
            assert site.to("a") == []
            page = system.http.get(f"{system.url}/ops", headers=ADMIN).text
            assert 'data-state="paused"' in page

            resumed = system.http.post(
                f"{act}/resume", data={"target": "webhooks", "confirm": "yes"}, headers=ADMIN
            )
            assert resumed.status_code == 200, resumed.text
            wait_for(
                lambda: _rows(db, 801)["webhooks"].status == "succeeded" or None,
                90,
                "the paused delivery after resume",
            )
            assert len(site.to("a")) == 1 and _rows(db, 801)["webhooks"].attempts == 1
        finally:
            system.stop()
