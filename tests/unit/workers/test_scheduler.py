"""The beat scheduler against a real Redis: of two, the one holding RedBeat's lock renews
its lease, the other waits for the lock; a holder whose lock expired waits too; Redis away
pauses the scheduler without renewing the lease; a schedule Redis lost is written again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import redis
from celery import Celery
from redbeat.schedulers import acquire_distributed_beat_lock

from syndicator.config import load_settings
from syndicator.runtime.redis_urls import BEAT_LOCK_KEY, REDBEAT_KEY_PREFIX, redbeat_settings
from tests.services import free_port
from workers.scheduler import RETRY_SECONDS, Scheduler


@pytest.fixture
def app(redis_url: str) -> Iterator[Celery]:
    app = Celery("scheduler-test", broker=redis_url, set_as_current=False)
    app.conf.update(
        redbeat_lock_timeout=2,
        beat_max_loop_interval=0.25,
        beat_schedule={},
        **redbeat_settings(load_settings({"SYNDICATOR_REDIS_URL": redis_url})),
    )
    yield app
    app.close()


def _started(app: Celery, **options: float) -> Scheduler:
    """A scheduler past beat's start-up, where RedBeat waits for its lock."""
    scheduler = Scheduler(app, **options)
    acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=scheduler))
    return scheduler


def test_the_holder_renews_its_lease_and_the_other_waits_for_the_lock(app: Celery) -> None:
    active = _started(app, lock_timeout=60)  # held for the whole test unless released
    assert not active.lease.held()  # until its first renewal
    active.tick()
    assert active.lease.held()

    waiting = Scheduler(app)  # RedBeat's start-up wait, done in its first tick instead
    # In a thread of its own, which makes every call on its lock (the token is thread-local).
    thread = threading.Thread(target=waiting.tick)
    thread.start()
    active.tick()
    assert thread.is_alive() and not waiting.lease.held()
    active.close()  # a stop releases the lock at once
    thread.join(timeout=30)
    assert not thread.is_alive() and waiting.lease.held()


def test_a_holder_whose_lock_expired_stands_by_until_it_is_free(
    app: Celery, redis_url: str
) -> None:
    stalled = _started(app)
    stalled.tick()
    redis.Redis.from_url(redis_url).delete(BEAT_LOCK_KEY)  # expired while it was stalled
    other = _started(app)
    # Its renewal fails: it waits, without a lease, until the other's lock expires too
    # (the other is never renewed: 2 s here).
    assert stalled.tick() == 0.0
    assert not other.lock.owned()
    stalled.tick()
    assert stalled.lease.held() and stalled.lock.owned()


def test_redis_away_pauses_the_scheduler_and_renews_nothing(app: Celery) -> None:
    scheduler = _started(app)
    away = redis.Redis(port=free_port(), socket_connect_timeout=1)
    scheduler.lock.redis = away
    app.redbeat_redis = away  # RedBeat's client for the schedule
    assert scheduler.tick() == min(RETRY_SECONDS, scheduler.max_interval)
    assert not scheduler.lease.held()


def test_a_schedule_redis_lost_is_written_again(app: Celery, redis_url: str) -> None:
    app.conf.beat_schedule = {"sweep": {"task": "sweep", "schedule": 5.0}}
    scheduler = _started(app)
    client = redis.Redis.from_url(redis_url)
    entry = f"{REDBEAT_KEY_PREFIX}sweep"
    schedule = f"{REDBEAT_KEY_PREFIX}:schedule"
    assert client.zscore(schedule, entry) is not None
    client.delete(schedule, entry)  # a Redis that came back empty
    scheduler.tick()
    assert client.zscore(schedule, entry) is not None and scheduler.lease.held()
