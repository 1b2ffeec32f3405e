"""`syndicator worker`, as an operator starts it: a real Celery worker on the queues named,
and before migrate a one-line refusal instead of Celery's traceback."""

from __future__ import annotations

from pathlib import Path

import redis

from syndicator.runtime.coordination import QueueHeartbeat, queue_heartbeats
from syndicator.store.migrate import upgrade
from tests.processes import CeleryProcesses, wait_for
from tests.system import system_env


def test_syndicator_worker_consumes_the_queues_it_is_given(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
) -> None:
    upgrade(database_url)
    processes = CeleryProcesses(system_env(tmp_path, database_url, redis_url, cms_secret), tmp_path)
    client = redis.Redis.from_url(redis_url)
    try:
        worker = processes.syndicator(
            "cmd", "worker", "-Q", "events,feeds", "-c", "1", "--hostname", "cmd@%h"
        )

        def consumer(queue: str) -> str:
            return (queue_heartbeats(client)[queue] or QueueHeartbeat(0, "")).worker

        wait_for(
            lambda: consumer("feeds").startswith("cmd@") and consumer("events").startswith("cmd@"),
            120,
            "the worker to consume feeds and events",
        )
        assert consumer("email") == "" and consumer("webhooks") == ""  # only what it was given
        assert worker.poll() is None
    finally:
        processes.stop_all()
        client.close()


def test_syndicator_worker_before_migrate_names_the_fix(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
) -> None:
    processes = CeleryProcesses(system_env(tmp_path, database_url, redis_url, cms_secret), tmp_path)
    try:
        worker = processes.syndicator("early", "worker", "-c", "1")
        assert worker.wait(timeout=120) == 1
        log = (tmp_path / "early.log").read_text()
        assert "syndicator migrate" in log and "Traceback" not in log
    finally:
        processes.stop_all()
