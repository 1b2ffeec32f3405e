"""A worker killed with a task in hand loses nothing: Redis hands the task to the next one."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
import redis
from sqlalchemy import func, select

from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.delivery.recorder import FLUSH_ROWS
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.ledger.claimers import WORKER_LOST
from syndicator.runtime.coordination import nudge_relay
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.runtime.status import collect_status
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, DeliveryAttempt, OutboxEntry
from tests.factories import make_event
from tests.integration import recording_channels
from tests.processes import CeleryProcesses, children_of, kill_group
from tests.system import stored_document, system_env, wait_for


@pytest.fixture
def processes(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> Iterator[CeleryProcesses]:
    upgrade(sqlite_url)
    # A short visibility timeout: the test waits seconds, not the production 15 minutes.
    env = system_env(tmp_path, sqlite_url, redis_url, cms_secret, SYNDICATOR_VISIBILITY_TIMEOUT="3")
    running = CeleryProcesses(env, tmp_path)
    yield running
    running.stop_all()


def test_task_of_a_killed_worker_is_redelivered_and_completed(
    processes: CeleryProcesses, tmp_path: Path, sqlite_url: str, redis_url: str
):
    client = redis.Redis.from_url(redis_url)
    first = processes.worker("doomed")
    wait_for(lambda: client.exists("syndicator:consuming:events"), what="the first worker")
    wait_for(lambda: children_of(first.pid), what="the worker's pool process")
    for child in children_of(first.pid):
        os.kill(child, signal.SIGSTOP)  # it takes the task, then never finishes it
    processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))

    db = Database(sqlite_url)
    event = make_event(555, title="작업자가 죽어도 사라지지 않는 보도자료")
    accepted = accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_crash")
    nudge_relay(client)
    wait_for(lambda: client.hlen("unacked"), what="the doomed worker to hold the task")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    for child in children_of(first.pid):
        os.kill(child, signal.SIGKILL)

    processes.worker("survivor")

    def published() -> bool:
        feed = stored_document(sqlite_url)
        return feed is not None and any(
            e.title == event["release"]["title"] for e in feedparser.parse(feed).entries
        )

    wait_for(published, 90, "the redelivered task to render the feed")

    def ledger() -> list[tuple[str, str]]:
        with db.session() as session:
            rows = session.scalars(select(Delivery).where(Delivery.event_id == accepted.event_id))
            return [(d.channel, d.status) for d in rows]

    # The outcome is recorded just after the feed file is renamed into place.
    wait_for(lambda: ledger() == [("feeds", "succeeded")], what="the delivery marked succeeded")
    db.dispose()


def _in_feed(database_url: str, event: dict) -> bool:
    feed = stored_document(database_url)
    return feed is not None and event["release"]["title"] in feed.decode()


def _fanout_messages(client: redis.Redis) -> list[bytes]:
    return [
        raw
        for raw in client.lrange("events", 0, -1)
        if json.loads(raw)["headers"]["task"] == "workers.tasks.fanout"
    ]


def test_tasks_queued_in_redis_survive_a_redis_restart(
    tmp_path: Path, sqlite_url: str, cms_secret: str
):
    server = EmbeddedRedis(tmp_path / "redis", tmp_path / "redis" / "redis.sock")
    url = server.start()
    upgrade(sqlite_url)
    processes = CeleryProcesses(system_env(tmp_path, sqlite_url, url, cms_secret), tmp_path)
    db = Database(sqlite_url)
    try:
        processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
        event = make_event(556, title="레디스가 다시 켜져도 남아 있는 작업")
        accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_restart")
        client = redis.Redis.from_url(url)
        nudge_relay(client)
        wait_for(lambda: _fanout_messages(client), what="the relay to queue the fan-out")
        server.stop()  # SHUTDOWN: the append-only file keeps the queue
        server.start()
        processes.worker("after-restart")
        wait_for(
            lambda: _in_feed(sqlite_url, event), 90, "the queued task to run after the restart"
        )
    finally:
        processes.stop_all()
        server.stop()
        db.dispose()


def test_a_fan_out_the_broker_lost_is_sent_again(
    processes: CeleryProcesses, tmp_path: Path, sqlite_url: str, redis_url: str
):
    """The gap Redis leaves: a message popped by a worker killed before it registered the
    message as unacked, or queued in the second before a crash that the AOF had not synced.
    The outbox knows the fan-out never ran, and the sweeper sends it again."""
    client = redis.Redis.from_url(redis_url)
    processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
    event = make_event(557, title="브로커가 잃어버린 작업도 다시 보내는 보도자료")
    with Database(sqlite_url) as db:
        accepted = accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_lost")
        nudge_relay(client)
        lost = wait_for(lambda: _fanout_messages(client), what="the relay to queue the fan-out")
        assert client.lrem("events", 0, lost[0]) == 1  # the broker loses it
        assert (
            collect_status(db, client, stale_after=timedelta(seconds=20)).outbox_awaiting_fanout
            == 1
        )  # operators see it
        processes.worker("after-loss")
        wait_for(
            lambda: _in_feed(sqlite_url, event),
            90,
            "the lost fan-out to be sent again and rendered",
        )
        with db.session() as session:
            row = session.scalars(
                select(OutboxEntry).where(OutboxEntry.event_id == accepted.event_id)
            ).one()
            assert row.planned_at is not None and row.relay_attempts == 1
    assert "fan-out sent again" in (tmp_path / "after-loss.log").read_text()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _succeeded_attempts(db: Database, channel: str) -> Counter[str]:
    """Target -> number of succeeded attempts the ledger holds for it."""
    with db.session() as session:
        rows = session.execute(
            select(Delivery.target, func.count())
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .where(Delivery.channel == channel, DeliveryAttempt.outcome == "succeeded")
            .group_by(Delivery.target)
        )
        return Counter({target: count for target, count in rows})


def _lost_attempts(db: Database, channel: str) -> dict[str, str]:
    """Target -> detail of the attempt a lost worker spent on it (ledger/claimers.py)."""
    with db.session() as session:
        rows = session.execute(
            select(Delivery.target, DeliveryAttempt.detail)
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .where(Delivery.channel == channel, DeliveryAttempt.error_class == WORKER_LOST)
        )
        return {target: detail or "" for target, detail in rows}


def _kill_child(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the prefork child, as the OOM killer does; its parent forks a new one."""
    (child,) = children_of(worker.pid)
    os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize(
    ("kind", "in_flight", "kill"),
    [
        ("SlowRecorded", 1, "worker"),
        ("SlowRecordedAsync", recording_channels.SlowRecordedAsync.concurrency, "child"),
    ],
)
def test_a_worker_killed_mid_batch_leaves_what_it_delivered_recorded(
    tmp_path: Path,
    sqlite_url: str,
    redis_url: str,
    cms_secret: str,
    kind: str,
    in_flight: int,
    kill: str,
):
    """SIGKILL in the middle of a 2,000-row batch, of the whole worker or of its prefork
    child: every row it delivered is recorded, but for the rows in flight (outcomes not
    committed yet, at most 100, and the rows being sent); those are the only ones sent
    twice. The sweeper sees the process is gone and returns its claims at once: there is
    no claim lease to wait for, and no Redis redelivery either (the visibility timeout is
    the production one here)."""
    upgrade(sqlite_url)
    channel = f"{recording_channels.__name__}:{kind}"
    env = system_env(tmp_path, sqlite_url, redis_url, cms_secret, SYNDICATOR_EXTRA_CHANNELS=channel)
    processes = CeleryProcesses(env, tmp_path)
    queues = (EVENTS_QUEUE, recording_channels.QUEUE)
    delivered_log = recording_channels.delivered_log(tmp_path / "var")
    client = redis.Redis.from_url(redis_url)
    db = Database(sqlite_url)
    try:
        doomed = processes.worker("doomed", queues)
        wait_for(lambda: client.exists("syndicator:consuming:bulk"), what="the first worker")
        processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
        event = make_event(558, title="2,000명에게 보내다 멈춘 소식지")
        accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_kill_mid_batch")
        nudge_relay(client)
        wait_for(lambda: len(_lines(delivered_log)) >= 600, 60, "the batch to be under way")
        if kill == "worker":
            kill_group(doomed)
        else:
            _kill_child(doomed)

        delivered = Counter(_lines(delivered_log))
        recorded = _succeeded_attempts(db, "recorded")
        assert len(delivered) < recording_channels.ROWS, "killed too late to test anything"
        assert set(delivered.values()) == {1} and set(recorded.values()) <= {1}
        assert set(recorded) <= set(delivered)
        unrecorded = set(delivered) - set(recorded)
        print(f"{kind}: killed after {len(delivered)} rows, {len(unrecorded)} not yet recorded")
        # The contract, not the constant: outcomes are committed at least every 100 rows.
        assert FLUSH_ROWS <= 100 and len(unrecorded) < 100 + in_flight, len(unrecorded)
        with db.session() as session:
            rows = session.scalar(select(func.count()).where(Delivery.channel == "recorded"))
        assert rows == recording_channels.ROWS
        if kill == "worker":
            processes.worker("survivor", queues)

        def all_succeeded() -> bool:
            return len(_succeeded_attempts(db, "recorded")) == recording_channels.ROWS

        # Well within the claim lease (5.5 minutes): only the release brings the rows back.
        wait_for(all_succeeded, 120, "the rest of the batch to be delivered")
        assert set(_succeeded_attempts(db, "recorded").values()) == {1}
        delivered = Counter(_lines(delivered_log))
        assert len(delivered) == recording_channels.ROWS
        sent_twice = {target for target, times in delivered.items() if times > 1}
        assert sent_twice <= unrecorded and max(delivered.values()) <= 2
        # Released because its process was gone, each with the attempt it spent logged.
        lost = _lost_attempts(db, "recorded")
        assert unrecorded <= set(lost) and not set(lost) & set(recorded), len(lost)
        assert all("no longer running" in detail for detail in lost.values())
    finally:
        processes.stop_all()
        db.dispose()


def _freeze(worker: subprocess.Popen[bytes], database: Path) -> None:
    """SIGSTOP the worker and its child, at a moment it holds no database transaction:
    a process frozen in one would hold SQLite's write lock, and block everyone."""
    group = [worker.pid, *children_of(worker.pid)]
    while True:
        for pid in group:
            os.kill(pid, signal.SIGSTOP)
        try:
            with contextlib.closing(sqlite3.connect(database, timeout=0.5)) as probe:
                probe.execute("BEGIN IMMEDIATE")
                probe.rollback()
            return
        except sqlite3.OperationalError:  # caught mid-flush: let it finish, and try again
            for pid in group:
                os.kill(pid, signal.SIGCONT)


def test_a_frozen_workers_claims_are_released_once_its_heartbeat_stops(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    """A worker process that still exists but does nothing (stopped, stuck, swapped out):
    its host cannot call it gone, and its silent heartbeat decides. The thresholds are
    made short through the settings."""
    upgrade(sqlite_url)
    kind = "SlowRecordedAsync"
    env = system_env(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        SYNDICATOR_EXTRA_CHANNELS=f"{recording_channels.__name__}:{kind}",
        SYNDICATOR_WORKER_HEARTBEAT_SECONDS="0.5",
        SYNDICATOR_WORKER_STALE_SECONDS="3",
    )
    processes = CeleryProcesses(env, tmp_path)
    queues = (EVENTS_QUEUE, recording_channels.QUEUE)
    delivered_log = recording_channels.delivered_log(tmp_path / "var")
    client = redis.Redis.from_url(redis_url)
    db = Database(sqlite_url)
    try:
        frozen = processes.worker("frozen", queues)
        wait_for(lambda: client.exists("syndicator:consuming:bulk"), what="the first worker")
        processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
        event = make_event(559, title="멈춰 버린 작업자가 쥐고 있던 소식지")
        accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_frozen_mid_batch")
        nudge_relay(client)
        wait_for(lambda: len(_lines(delivered_log)) >= 600, 60, "the batch to be under way")
        _freeze(frozen, Path(sqlite_url.removeprefix("sqlite:///")))
        delivered_before = set(_lines(delivered_log))
        assert len(delivered_before) < recording_channels.ROWS, "froze too late"
        processes.worker("survivor", queues)

        def all_succeeded() -> bool:
            return len(_succeeded_attempts(db, "recorded")) == recording_channels.ROWS

        wait_for(all_succeeded, 120, "the frozen worker's rows to be delivered by another")
        lost = _lost_attempts(db, "recorded")
        assert lost and all("stopped heartbeating" in d for d in lost.values()), lost
        delivered = Counter(_lines(delivered_log))
        assert len(delivered) == recording_channels.ROWS
        # Only rows the frozen worker had sent without recording can have gone twice.
        assert {t for t, n in delivered.items() if n > 1} <= delivered_before & set(lost)
    finally:
        kill_group(frozen)  # SIGKILL reaches a stopped process; SIGTERM would wait
        processes.stop_all()
        db.dispose()
