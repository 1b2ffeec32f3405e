"""Process hooks: a finished task proves its queue is consumed (a heartbeat does not run
behind a long newsletter), and log lines carry the running task's id."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import redis

import workers.lifecycle as lifecycle
from syndicator.runtime.coordination import consuming_queues
from workers.task_names import HEARTBEAT


@pytest.fixture
def client(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    monkeypatch.setattr(lifecycle, "runtime", lambda: SimpleNamespace(redis=client))
    return client


def _task(name: str, queue: str | None) -> SimpleNamespace:
    request = SimpleNamespace(delivery_info={"routing_key": queue}, hostname="w1@host")
    return SimpleNamespace(name=name, request=request)


def test_a_finished_task_proves_its_queue_consumed(client: redis.Redis) -> None:
    lifecycle.prove_consumption(sender=_task("workers.tasks.deliver", "email"))
    seen = consuming_queues(client)
    assert seen["email"] is not None and seen["webhooks"] is None


def test_heartbeats_and_unknown_queues_prove_nothing_here(client: redis.Redis) -> None:
    lifecycle.prove_consumption(sender=_task(HEARTBEAT, "email"))
    lifecycle.prove_consumption(sender=_task("workers.tasks.deliver", "celery"))
    lifecycle.prove_consumption(sender=None)
    assert set(consuming_queues(client).values()) == {None}


def test_a_log_line_outside_a_task_is_left_as_it_is() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    assert lifecycle._TaskId().filter(record) and not hasattr(record, "task_id")


def test_stopping_stops_the_relay_and_heartbeat_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = [SimpleNamespace(stopped=False), SimpleNamespace(stopped=False)]
    for thread in threads:
        thread.stop = lambda t=thread: setattr(t, "stopped", True)
    monkeypatch.setattr(lifecycle, "_relay", threads[0])
    monkeypatch.setattr(lifecycle, "_heartbeat", threads[1])
    lifecycle.stop_threads()
    assert all(t.stopped for t in threads)
