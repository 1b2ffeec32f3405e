"""A burst of publishes is rendered a handful of times, not once per publish."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import feedparser
import redis
from sqlalchemy import func, select

from syndicator.delivery.coalescer import LOCK_TTL, renewed
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt
from tests.factories import make_event
from tests.system import RunningSystem, system_env, wait_for

BURST = 100


def test_a_burst_of_publishes_coalesces_into_a_few_renders(
    tmp_path, sqlite_url, redis_url, cms_secret
):
    env = system_env(tmp_path, sqlite_url, redis_url, cms_secret)
    system = RunningSystem(env, tmp_path / "system.log")
    base = datetime(2024, 3, 1, tzinfo=UTC)
    events = [
        make_event(
            1000 + n,
            published_at=(base + timedelta(minutes=n)).isoformat(),
            title=f"폭주 테스트 {n}",
        )
        for n in range(BURST)
    ]
    database = Database(sqlite_url)
    try:
        system.start()
        # A burst is publishes arriving while a render runs. On a loaded machine the hook can
        # take longer per publish than a render, so the test holds the render's lock itself
        # until the whole burst is planned: every request then meets a render in progress.
        client = redis.Redis.from_url(redis_url)
        lock = client.lock("syndicator:lock:feeds", timeout=LOCK_TTL, thread_local=False)
        assert lock.acquire(blocking_timeout=60)
        with renewed(lock, LOCK_TTL):
            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(pool.map(system.publish, events))
            assert all(a.status_code == 202 for a in answers)

            def all_planned() -> bool:
                with database.session() as session:
                    return session.scalar(select(func.count()).select_from(Delivery)) == BURST

            wait_for(all_planned, 120, "every publish of the burst to be planned")
        lock.release()
        client.close()

        def all_delivered() -> bool:
            with database.session() as session:
                done = session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "succeeded")
                )
            return done == BURST

        wait_for(all_delivered, 120, "every publish of the burst to be rendered")
        with database.session() as session:
            # One render records one attempt per row it took, all with the same start.
            renders = session.scalar(select(func.count(func.distinct(DeliveryAttempt.started_at))))
        print(f"{BURST} publishes, {renders} renders")
        assert renders is not None and renders <= BURST // 5, renders
        feed = feedparser.parse(system.get("/feeds/rss.xml").content)
        assert [e.title for e in feed.entries[:3]] == [
            "폭주 테스트 99",
            "폭주 테스트 98",
            "폭주 테스트 97",
        ]
    finally:
        system.stop()
        database.dispose()
