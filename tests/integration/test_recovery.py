"""Crashes and misconfiguration, as an operator meets them: a render lock left by a killed
worker, a worker that starts before migrate, a worker that loses its database, and beat
stopped while the workers are fine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from syndicator.channels.registry import ALL_QUEUES
from syndicator.delivery.coalescer import LOCK_TTL
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.runtime.coordination import QueueHeartbeat, nudge_relay, queue_heartbeats
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app
from tests.factories import make_event
from tests.integration import held_feeds
from tests.live_server import serve
from tests.processes import CeleryProcesses, kill_group
from tests.system import stored_document, system_env, wait_for

RENDER_LOCK = "syndicator:lock:feeds"


@pytest.fixture
def processes(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
) -> Iterator[CeleryProcesses]:
    env = system_env(tmp_path, database_url, redis_url, cms_secret)
    running = CeleryProcesses(env, tmp_path)
    yield running
    running.stop_all()


def test_a_feeds_worker_killed_while_it_holds_the_render_lock_holds_nobody_up(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
):
    """A real worker, SIGKILLed inside the feeds coalescer with the render lock taken: the
    next publish reaches the feed within seconds of a worker being back, not after the
    task time limit (the lock lived 310 s until it was cut to a renewed 15 s)."""
    upgrade(database_url)
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    hook = f"{held_feeds.__name__}:{held_feeds.HeldFeeds.__name__}"
    env = system_env(tmp_path, database_url, redis_url, cms_secret, SYNDICATOR_EXTRA_CHANNELS=hook)
    processes = CeleryProcesses(env, tmp_path)
    client = redis.Redis.from_url(redis_url)
    db = Database(database_url)
    try:
        held_feeds.hold_switch(data_dir).touch()
        doomed = processes.worker("doomed")
        processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
        first = make_event(777, title="렌더링 도중 멈춘 보도자료")
        accept_event(db, CmsEvent.model_validate(first), webhook_id="msg_lock_1")
        nudge_relay(client)
        wait_for(held_feeds.held_marker(data_dir).exists, 120, "the render to be under way")
        assert client.exists(RENDER_LOCK), "the worker renders without holding the lock"
        kill_group(doomed)
        assert client.exists(RENDER_LOCK), "the lock must outlive its holder for this test"
        held_feeds.hold_switch(data_dir).unlink()

        processes.worker("survivor")
        wait_for(
            lambda: (queue_heartbeats(client)["feeds"] or QueueHeartbeat(0, "")).worker.startswith(
                "survivor@"
            ),
            120,
            "the survivor to consume the feeds queue",
        )
        back = time.monotonic()
        second = make_event(778, title="작업자가 돌아온 뒤의 보도자료")
        accept_event(db, CmsEvent.model_validate(second), webhook_id="msg_lock_2")
        nudge_relay(client)
        # A lock left to expire on its own would hold this up for minutes; the bound
        # leaves a loaded machine room over the renewed lock's 15 s.
        wait_for(
            lambda: second["release"]["title"].encode() in (stored_document(database_url) or b""),
            30 + LOCK_TTL,
            "the publish to render within seconds of a worker being back",
        )
        print(f"rendered {time.monotonic() - back:.1f} s after the survivor consumed feeds")
        assert first["release"]["title"].encode() in (stored_document(database_url) or b"")
    finally:
        processes.stop_all()
        client.close()
        db.dispose()


def test_a_worker_started_before_migrate_exits_with_the_hint(processes: CeleryProcesses, tmp_path):
    worker = processes.worker("too-early")
    assert worker.wait(timeout=120) != 0
    log = (tmp_path / "too-early.log").read_text()
    assert "run: syndicator migrate" in log


def test_pipeline_readiness_names_a_lost_database_and_survives_beat_stopping(
    processes: CeleryProcesses, database_url: str, redis_url: str, settings
):
    if not database_url.startswith("postgresql"):
        pytest.skip("the database is taken away by dropping a PostgreSQL database")
    upgrade(database_url)
    app_settings = settings.with_(redis_url=redis_url)
    # Heartbeats every 2 s: proofs (and beat's) expire after 9 s, not the default 45 s.
    processes.env["SYNDICATOR_QUEUE_HEARTBEAT_SECONDS"] = "2"
    worker = processes.worker("steady")
    beat = processes.start("beat", "beat", "--schedule", str(processes.logs / "beat-schedule"))
    with serve(create_app(app_settings)) as url, httpx.Client(base_url=url, timeout=30) as http:

        def pipeline() -> dict:
            return http.get("/readyz/pipeline").json()

        wait_for(lambda: pipeline()["status"] == "flowing", 120, "the pipeline to flow")
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(timeout=60)
        # Past the heartbeat TTL (9 s): workers still prove themselves without beat.
        wait_for(
            lambda: (
                http.get("/readyz/pipeline").json()["causes"]
                == ["beat is not running: the outbox is not relayed and retries are not swept"]
            ),
            120,
            "only beat to be missing",
        )
        stamp = redis.Redis.from_url(redis_url).get("syndicator:beat:alive")
        assert stamp is None  # expired: the check above ran past the TTL
        assert worker.poll() is None

        # Take the database away from under the worker.
        name = database_url.rsplit("/", 1)[1]
        admin = database_url.rsplit("/", 1)[0].replace("+psycopg", "") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        try:
            causes = wait_for(
                lambda: [c for c in pipeline()["causes"] if "cannot reach the database" in c],
                60,
                "the pipeline to name the database",
            )
            # Whichever of the worker's queues reported first: all of them lost it.
            named = {c.split(" queue ")[0].removeprefix("workers on the ") for c in causes}
            assert named and named <= set(ALL_QUEUES), causes
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def test_web_refuses_to_start_before_migrate(tmp_path: Path, sqlite_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "web", "--port", "1"],
        env={
            **os.environ,
            "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
            "SYNDICATOR_DATABASE_URL": sqlite_url,
            "SYNDICATOR_REDIS_URL": "redis://127.0.0.1:1/0",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "run: syndicator migrate" in result.stderr
    assert "Traceback" not in result.stderr
