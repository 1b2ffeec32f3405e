"""A row whose delivery kills the worker process every time, through a real worker and
beat: it is failed as poison after POISON_STRIKES deaths, with an error class operators
see, instead of being claimed forever; the rows that shared its batch are all delivered,
and none of them is failed with it; an operator can replay it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import redis
from sqlalchemy import select

from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.ledger.claimers import WORKER_LOST
from syndicator.ledger.poison import POISON, POISON_STRIKES
from syndicator.ops.actions import replay_delivery
from syndicator.ops.console_views import recent_failures
from syndicator.runtime.coordination import nudge_relay
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, DeliveryAttempt
from tests.factories import make_event
from tests.integration import recording_channels
from tests.integration.recording_channels import POISON_ROWS, POISON_TARGET
from tests.processes import CeleryProcesses
from tests.system import system_env, wait_for


def _rows(db: Database) -> dict[str, tuple[str, int, str | None]]:
    with db.read_session() as session:
        rows = session.execute(
            select(Delivery.target, Delivery.status, Delivery.crashes, Delivery.last_error).where(
                Delivery.channel == "recorded"
            )
        )
        return {target: (status, crashes, error) for target, status, crashes, error in rows}


def _attempts(db: Database, target: str) -> list[tuple[str, str | None]]:
    with db.read_session() as session:
        rows = session.execute(
            select(DeliveryAttempt.outcome, DeliveryAttempt.error_class)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.target == target)
            .order_by(DeliveryAttempt.id)
        )
        return [(outcome, error) for outcome, error in rows]


def test_a_row_that_kills_its_worker_every_time_is_failed_as_poison(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    upgrade(sqlite_url)
    channel = f"{recording_channels.__name__}:Poisonous"
    env = system_env(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        SYNDICATOR_EXTRA_CHANNELS=channel,
        # A dead child is known as dead within seconds, not the default 20 s per death.
        SYNDICATOR_WORKER_HEARTBEAT_SECONDS="0.5",
        SYNDICATOR_WORKER_STALE_SECONDS="3",
    )
    processes = CeleryProcesses(env, tmp_path)
    client = redis.Redis.from_url(redis_url)
    db = Database(sqlite_url)
    try:
        processes.worker("worker", (EVENTS_QUEUE, recording_channels.QUEUE))
        wait_for(lambda: client.exists("syndicator:consuming:bulk"), what="the worker")
        processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
        event = make_event(561, title="받는 사람마다 작업자를 죽이는 소식지")
        accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_poison_row")
        nudge_relay(client)

        def settled() -> bool:
            rows = _rows(db)
            return len(rows) == POISON_ROWS and all(
                s in ("succeeded", "failed") for s, _, _ in rows.values()
            )

        # Each death costs a respawn and a sweep: a bound against hanging, not a speed check.
        wait_for(settled, 600, "every row to end succeeded or failed")
        rows = _rows(db)
        status, crashes, error = rows.pop(POISON_TARGET)
        assert (status, crashes) == ("failed", POISON_STRIKES)
        assert error and "replay" in error
        attempts = _attempts(db, POISON_TARGET)
        assert attempts[-1] == ("failed", POISON)
        assert attempts[:-1] == [("retrying", WORKER_LOST)] * (POISON_STRIKES - 1)
        # Every other row was delivered, and not one was failed along with it.
        assert {s for s, _, _ in rows.values()} == {"succeeded"}
        delivered = Counter((tmp_path / "var" / "delivered.log").read_text().splitlines())
        assert set(delivered) == set(rows)

        # Operators see it by its error class, and may replay it.
        (group,) = [g for g in recent_failures(db) if g.target == POISON_TARGET]
        assert (group.error_class, group.delivery_status) == (POISON, "failed")
        with db.read_session() as session:
            poison_id = session.scalar(select(Delivery.id).where(Delivery.target == POISON_TARGET))
        assert poison_id is not None
        processes.stop_all()  # the replayed row would only kill the worker again
        replay_delivery(db, "cli:test", poison_id)
        assert _rows(db)[POISON_TARGET][:2] == ("pending", 0)
    finally:
        processes.stop_all()
        db.dispose()
