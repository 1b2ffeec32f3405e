"""Feed documents reach every web node when they are stored, not at the node's next poll.

A real `syndicator web` process (another process than the publisher, on the same
database) serves the feeds. The feeds channel stores a publish and announces it on Redis;
the node refreshes at once, and so after `syndicator import`. Its poll is set to a minute,
so only the announcement can show the release within the deadline. With Redis gone, the
poll alone still shows it.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import redis

from syndicator.channels.base import ChannelContext
from syndicator.channels.feeds import FeedsChannel
from syndicator.config import DEMO_DIR, Settings
from syndicator.delivery.runner import Enqueue, load_event, plan_event, run_due
from syndicator.events.files import read_events
from syndicator.events.schema import CmsEvent
from syndicator.feeds.changes import documents_channel
from syndicator.intake.accept import accept_event, new_event_id
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from tests.factories import make_event
from tests.processes import WebNode, web_node
from tests.system import run_cli, wait_for

LONG_POLL = "60"  # seconds: longer than any deadline below


def push_node(
    tmp: Path, database_url: str, redis_url: str, check_seconds: str
) -> AbstractContextManager[WebNode]:
    """A `syndicator web` node beside the publisher; yields its base URL once it answers."""
    env = {
        **os.environ,
        "SYNDICATOR_DATA_DIR": str(tmp / "web-node"),
        "SYNDICATOR_DATABASE_URL": database_url,
        "SYNDICATOR_REDIS_URL": redis_url,
        "SYNDICATOR_DOCUMENT_CHECK_SECONDS": check_seconds,
        "SYNDICATOR_ADMIN_TOKEN": "push-test-admin-token",
    }
    return web_node(env, tmp / "web-node.log")


def publish_through_channel(db: Database, settings: Settings, client: redis.Redis, n: int) -> str:
    """What a worker does for a publish: accept, plan the feeds row, render, store, announce."""
    title = f"푸시 확인 {n}번"
    event = CmsEvent.model_validate(make_event(30_000 + n, title=title))
    accepted = accept_event(db, event, webhook_id=new_event_id())
    record = load_event(db, accepted.event_id)
    assert record is not None
    channel = FeedsChannel(ChannelContext(settings=settings, db=db, redis=client))
    queued: list[Enqueue] = []
    plan_event(db, {"feeds": channel}, record, queued.append)
    run_due(db, channel, None)
    return title


def shows(url: str, title: str) -> bool:
    answer = httpx.get(f"{url}/feeds/rss.xml", timeout=5)
    return answer.status_code == 200 and title in answer.text


def listening(client: redis.Redis) -> bool:
    """The node subscribed: an announcement made now reaches it."""
    db = int(client.connection_pool.connection_kwargs.get("db", 0))
    channel = documents_channel(db)
    return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= 1


def test_a_second_web_node_shows_a_publish_without_waiting_for_its_poll(
    tmp_path: Path, database_url: str, redis_url: str, settings: Settings
) -> None:
    upgrade(database_url)
    client = redis.Redis.from_url(redis_url)
    with (
        Database(database_url) as db,
        push_node(tmp_path, database_url, redis_url, LONG_POLL) as (url, _),
    ):
        wait_for(lambda: listening(client), 30, "the node to subscribe")
        first = publish_through_channel(db, settings, client, 1)
        # The node's one poll happens at its first request; every change after it is pushed.
        wait_for(lambda: shows(url, first), 30, "the first publish on the node")
        second = publish_through_channel(db, settings, client, 2)
        wait_for(lambda: shows(url, second), 30, "the second publish, before any poll")
    client.close()


def test_with_redis_gone_the_poll_still_shows_a_publish(
    tmp_path: Path, database_url: str, settings: Settings
) -> None:
    upgrade(database_url)
    own = EmbeddedRedis(tmp_path / "redis", tmp_path / "redis" / "redis.sock")
    redis_url = own.start()
    client = redis.Redis.from_url(redis_url)
    try:
        with (
            Database(database_url) as db,
            push_node(tmp_path, database_url, redis_url, "1") as (url, _),
        ):
            wait_for(lambda: listening(client), 30, "the node to subscribe")
            first = publish_through_channel(db, settings, client, 1)
            wait_for(lambda: shows(url, first), 30, "the first publish on the node")
            own.stop()
            # The announcement fails (the channel only warns); the node's poll finds it.
            second = publish_through_channel(db, settings, client, 2)
            wait_for(lambda: shows(url, second), 30, "the publish, through the poll alone")
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        client.close()
        own.stop()


def test_an_import_reaches_a_node_without_waiting_for_its_poll(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    upgrade(database_url)
    client = redis.Redis.from_url(redis_url)
    with push_node(tmp_path, database_url, redis_url, LONG_POLL) as (url, _):
        wait_for(lambda: listening(client), 30, "the node to subscribe")
        assert httpx.get(f"{url}/feeds/rss.xml", timeout=5).status_code == 404  # its one poll
        imported = run_cli(
            "import",
            str(DEMO_DIR),
            SYNDICATOR_DATA_DIR=str(tmp_path / "ops-host"),
            SYNDICATOR_DATABASE_URL=database_url,
            SYNDICATOR_REDIS_URL=redis_url,
        )
        assert imported.returncode == 0, imported.stderr
        newest = max(read_events([DEMO_DIR]), key=lambda e: e.release.published_at)
        wait_for(lambda: shows(url, newest.release.title), 30, "the import on the node")
    client.close()
