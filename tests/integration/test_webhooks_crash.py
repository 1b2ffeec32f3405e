"""A worker killed mid-fan-out to partners loses nothing, and partners deduplicating on
``webhook-id`` see each event exactly once (real Celery workers, Redis and receiver)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import redis
from sqlalchemy import func, select

from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.runtime.coordination import nudge_relay
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, DeliveryAttempt
from tests.factories import make_event
from tests.integration.webhook_receiver import Reply, receiver
from tests.integration.webhook_support import add_partner
from tests.processes import CeleryProcesses, kill_group
from tests.system import system_env, wait_for

PARTNERS = 40
EVENTS = 3
QUEUES = (EVENTS_QUEUE, "webhooks")


def _succeeded(db: Database) -> Counter[int]:
    with db.session() as session:
        rows = session.execute(
            select(Delivery.id, func.count())
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .where(Delivery.channel == "webhooks", DeliveryAttempt.outcome == "succeeded")
            .group_by(Delivery.id)
        )
        return Counter({delivery_id: count for delivery_id, count in rows})


def test_a_worker_killed_mid_fan_out_loses_nothing_and_partners_see_each_event_once(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    upgrade(sqlite_url)
    env = system_env(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        SYNDICATOR_VISIBILITY_TIMEOUT="3",
        SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        SYNDICATOR_WEBHOOK_RETRY_SCHEDULE="1,1,2",
    )
    processes = CeleryProcesses(env, tmp_path)
    client = redis.Redis.from_url(redis_url)
    db = Database(sqlite_url)
    with receiver() as site:
        try:
            for n in range(PARTNERS):
                add_partner(db, site.url(f"p{n}"), secrets=[("whsec_" + "A" * 43 + "=", None)])
                # Half answer at once, half take a while: the kill finds rows recorded,
                # rows answered but not recorded, and rows in flight.
                site.script(f"p{n}", *[Reply(delay=0.0 if n % 2 else 1.5)] * 10)
            doomed = processes.worker("doomed", QUEUES)
            wait_for(lambda: client.exists("syndicator:consuming:webhooks"), what="the worker")
            processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
            for release in range(1, EVENTS + 1):
                event = make_event(600 + release, title=f"협력사에 보내다 멈춘 소식 {release}")
                accept_event(db, CmsEvent.model_validate(event), webhook_id=f"msg_w{release}")
            nudge_relay(client)
            wait_for(lambda: len(site.requests) >= PARTNERS, 60, "the fan-out to be under way")
            kill_group(doomed)
            seen_at_kill = len(site.requests)
            assert seen_at_kill < PARTNERS * EVENTS, "killed too late to test anything"

            # No claim lease to wait for: the sweeper sees the dead worker's processes are
            # gone and returns their claims, and a new worker delivers the rest.
            processes.worker("survivor", QUEUES)

            def all_delivered() -> bool:
                return len(_succeeded(db)) == PARTNERS * EVENTS

            wait_for(all_delivered, 120, "every partner to get every event")
        finally:
            processes.stop_all()
        # Recorded once each; partners deduplicating on webhook-id see each event once.
        assert set(_succeeded(db).values()) == {1}
        for n in range(PARTNERS):
            assert len(site.unique_ids(f"p{n}")) == EVENTS, n
        assert len(site.unique_ids()) == PARTNERS * EVENTS
        # The rows in flight at the kill were sent again, with the same webhook-id.
        assert len(site.requests) > PARTNERS * EVENTS
        print(f"requests {len(site.requests)}, unique {len(site.unique_ids())}")
    db.dispose()
