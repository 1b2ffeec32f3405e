"""Two `syndicator beat` processes on one database and one Redis: the one holding the beat
lock schedules and relays the outbox, the other waits. Killed with SIGKILL, the active one
is replaced within the lock's timeout, and nothing is sent twice: no scheduled task for one
due time, no event's fan-out. Nothing consumes the events queue here, so it holds every
message sent."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery import Celery
from redbeat.schedulers import RedBeatSchedulerEntry
from sqlalchemy import select

from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.config import Settings, load_settings
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.runtime.coordination import BEAT_KEY, nudge_relay
from syndicator.runtime.redis_urls import redbeat_settings
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import OutboxEntry, utcnow
from tests.factories import make_event
from tests.processes import CeleryProcesses, kill_group
from tests.system import system_env, wait_for
from workers.app import SWEEP_SECONDS, app
from workers.task_names import DIGESTS, EXPIRE_NOTICES, FANOUT, PRUNE_ATTEMPTS, SWEEP

# Short, so the test waits seconds: the lock outlives its killed holder this long.
LOCK_SECONDS = 2
# Well above the longest takeover (1.25 x the lock's timeout) plus a busy machine.
TAKEOVER_BOUND = 60.0
# Made due at start, then not due for five minutes or more: a second message is a double.
DUE_ONCE = (DIGESTS, PRUNE_ATTEMPTS, EXPIRE_NOTICES)


@pytest.fixture
def beats(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
) -> Iterator[CeleryProcesses]:
    if not database_url.startswith("postgresql"):
        pytest.skip("beats on several hosts share PostgreSQL; SQLite is one host's database")
    upgrade(database_url)
    env = system_env(
        tmp_path,
        database_url,
        redis_url,
        cms_secret,
        SYNDICATOR_BEAT_LOCK_SECONDS=str(LOCK_SECONDS),
    )
    running = CeleryProcesses(env, tmp_path)
    yield running
    running.stop_all()


def _all_due(settings: Settings) -> None:
    """Every entry of the schedule last ran a day ago, as RedBeat records it: all are due
    when the first beat starts (a new entry would wait one whole interval first)."""
    beats_redis = Celery("seed", set_as_current=False)
    beats_redis.conf.update(redbeat_settings(settings))
    for name, entry in app.conf.beat_schedule.items():
        due = RedBeatSchedulerEntry(name, entry["task"], entry["schedule"], app=beats_redis)
        due.last_run_at = utcnow() - timedelta(days=1)
        due.save()


def _queued(client: redis.Redis) -> list[tuple[str, list]]:
    """(task name, args) of every message on the events queue, oldest first."""
    found = []
    for raw in reversed(client.lrange(EVENTS_QUEUE, 0, -1)):  # LPUSHed: newest first
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        found.append((message["headers"]["task"], args))
    return found


def _sweeps(client: redis.Redis) -> int:
    return sum(task == SWEEP for task, _ in _queued(client))


def _unrelayed(db: Database) -> int:
    with db.read_session() as session:
        return len(
            session.scalars(select(OutboxEntry.id).where(OutboxEntry.relayed_at.is_(None))).all()
        )


def _accept(db: Database, client: redis.Redis, *release_ids: int) -> list[str]:
    ids = [
        accept_event(db, CmsEvent.model_validate(make_event(n)), webhook_id=f"m{n}").event_id
        for n in release_ids
    ]
    nudge_relay(client)
    return ids


def test_of_two_beats_one_runs_and_the_other_takes_over_when_it_is_killed(
    beats: CeleryProcesses, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url)
    _all_due(load_settings(beats.env))
    started = time.monotonic()
    logs = {name: tmp_path / f"{name}.log" for name in ("beat-a", "beat-b")}
    processes = {name: beats.syndicator(name, "beat") for name in logs}
    wait_for(
        lambda: all("outbox relay started" in log.read_text() for log in logs.values()),
        TAKEOVER_BOUND,
        "both beats to start",
    )
    with Database(database_url) as db:
        before = _accept(db, client, 1, 2, 3)
        wait_for(lambda: _unrelayed(db) == 0, TAKEOVER_BOUND, "the active beat to relay")
        # The active one: its relay sent them (the other's, never, as the counts below say).
        active = next(name for name, log in logs.items() if before[0] in log.read_text())
        assert client.exists(BEAT_KEY)  # the active beat says it is alive
        kill_group(processes.pop(active))
        killed = time.monotonic()
        sweeps = _sweeps(client)
        after = _accept(db, client, 4, 5, 6)
        wait_for(lambda: _unrelayed(db) == 0, TAKEOVER_BOUND, "the second beat to relay")
        takeover = time.monotonic() - killed
        # ... and to schedule: the next sweep comes from it.
        wait_for(lambda: _sweeps(client) > sweeps, TAKEOVER_BOUND, "the second beat to sweep")
        (survivor,) = processes.values()
        assert survivor.poll() is None
    queued = _queued(client)
    elapsed = time.monotonic() - started
    print(f"takeover {takeover:.1f} s (lock {LOCK_SECONDS} s), whole run {elapsed:.1f} s")

    # Each event's fan-out went to the broker once: never by both relays.
    fanouts = Counter(args[0] for task, args in queued if task == FANOUT)
    assert fanouts == Counter(before + after)
    # The second beat carried on from the schedule the first left in Redis.
    tasks = Counter(task for task, _ in queued)
    assert {task: tasks[task] for task in DUE_ONCE} == dict.fromkeys(DUE_ONCE, 1), tasks
    # The sweep is due every 5 s from its last send, whoever sent it.
    assert 1 <= tasks[SWEEP] <= elapsed // SWEEP_SECONDS + 1, (tasks[SWEEP], elapsed)
