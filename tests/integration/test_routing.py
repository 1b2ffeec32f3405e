"""Each message lands on exactly one queue, even after every worker declared its bindings."""

from __future__ import annotations

import redis

from syndicator.channels.registry import ALL_QUEUES
from syndicator.config import load_settings
from syndicator.runtime.redis_urls import broker_url


def test_each_queue_gets_only_its_own_messages(redis_url: str, monkeypatch) -> None:
    monkeypatch.setenv("SYNDICATOR_REDIS_URL", redis_url)
    from workers.app import app
    from workers.tasks import deliver, fanout, heartbeat

    # The app module may have been imported with other settings earlier.
    monkeypatch.setitem(app.conf, "broker_url", broker_url(load_settings()))
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in app.amqp.queues.values():
            queue(channel).declare()
        fanout.apply_async(args=["evt_x"], connection=connection)
        deliver.apply_async(args=["websub", [1]], queue="feeds", connection=connection)
        for name in ALL_QUEUES:
            heartbeat.apply_async(args=[name], queue=name, connection=connection)
    client = redis.Redis.from_url(redis_url)
    # fan-out + heartbeat on events; the WebSub delivery + heartbeat on feeds; one each elsewhere.
    expected = {name: 1 for name in ALL_QUEUES} | {"events": 2, "feeds": 2}
    assert {name: client.llen(name) for name in ALL_QUEUES} == expected
