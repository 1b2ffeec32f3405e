"""A worker killed with a task in hand loses nothing: Redis hands the task to the next one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
import redis
from sqlalchemy import select

from syndicator.channels.registry import ALL_QUEUES
from syndicator.events.schema import CmsEvent
from syndicator.runtime.coordination import nudge_relay
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.runtime.status import collect_status
from syndicator.store.db import Database
from syndicator.store.intake import accept_event
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, OutboxEntry
from tests.factories import make_event
from tests.system import system_env, wait_for


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "workers.app", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(
            name,
            "worker",
            "-Q",
            ",".join(ALL_QUEUES),
            "--concurrency",
            "1",
            "--hostname",
            f"{name}@%h",
            "--loglevel",
            "INFO",
        )

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def processes(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> Iterator[Processes]:
    upgrade(sqlite_url)
    # A short visibility timeout: the test waits seconds, not the production 15 minutes.
    env = system_env(tmp_path, sqlite_url, redis_url, cms_secret, SYNDICATOR_VISIBILITY_TIMEOUT="3")
    running = Processes(env, tmp_path)
    yield running
    running.stop_all()


def test_task_of_a_killed_worker_is_redelivered_and_completed(
    processes: Processes, tmp_path: Path, sqlite_url: str, redis_url: str
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
    feed = tmp_path / "var" / "public" / "feeds" / "rss.xml"

    def published() -> bool:
        return feed.exists() and any(
            e.title == event["release"]["title"]
            for e in feedparser.parse(feed.read_bytes()).entries
        )

    wait_for(published, 90, "the redelivered task to render the feed")

    def ledger() -> list[tuple[str, str]]:
        with db.session() as session:
            rows = session.scalars(select(Delivery).where(Delivery.event_id == accepted.event_id))
            return [(d.channel, d.status) for d in rows]

    # The outcome is recorded just after the feed file is renamed into place.
    wait_for(lambda: ledger() == [("feeds", "succeeded")], what="the delivery marked succeeded")
    db.dispose()


def _in_feed(tmp_path: Path, event: dict) -> bool:
    feed = tmp_path / "var" / "public" / "feeds" / "rss.xml"
    return feed.exists() and event["release"]["title"] in feed.read_text()


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
    processes = Processes(system_env(tmp_path, sqlite_url, url, cms_secret), tmp_path)
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
        wait_for(lambda: _in_feed(tmp_path, event), 90, "the queued task to run after the restart")
    finally:
        processes.stop_all()
        server.stop()
        db.dispose()


def test_a_fan_out_the_broker_lost_is_sent_again(
    processes: Processes, tmp_path: Path, sqlite_url: str, redis_url: str
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
        assert collect_status(db, client).outbox_awaiting_fanout == 1  # operators see it
        processes.worker("after-loss")
        wait_for(
            lambda: _in_feed(tmp_path, event), 90, "the lost fan-out to be sent again and rendered"
        )
        with db.session() as session:
            row = session.scalars(
                select(OutboxEntry).where(OutboxEntry.event_id == accepted.event_id)
            ).one()
            assert row.planned_at is not None and row.relay_attempts == 1
    assert "fan-out sent again" in (tmp_path / "after-loss.log").read_text()
