"""GET /metrics, read with prometheus_client's own parser, against a state the test makes:
queue depths in Redis, attempts recorded through the runner, retries, overdue rows, the
outbox, partners, subscribers, worker heartbeats; and every metric an alert rule names."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from syndicator.channels.base import BatchContext, DeliveryOutcome, EventRecord, SyncChannel
from syndicator.channels.registry import ALL_QUEUES, EVENTS_QUEUE
from syndicator.config import Settings, load_settings
from syndicator.delivery.runner import plan_event, run_claimed
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.ledger.claimers import register
from syndicator.ledger.claims import Claimed, claim
from syndicator.ledger.targets import ensure_deliveries
from syndicator.ops.actions import pause_channel
from syndicator.runtime.coordination import mark_beat, mark_consuming
from syndicator.runtime.liveness import release_lost
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, OutboxEntry, Partner, Subscriber, utcnow
from syndicator.web.app import create_app
from tests.factories import make_event
from tests.live_server import serve
from tests.processes import CeleryProcesses
from tests.system import run_cli, system_env, wait_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-admin-token"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: httpx.Client, token: str = TOKEN) -> Samples:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


class ScriptedWebhooks(SyncChannel):
    """Partners answer as scripted: (ok, retryable, seconds) by target."""

    name: ClassVar[str] = "webhooks"
    queue: ClassVar[str] = "webhooks"
    retry_schedule: ClassVar[tuple[float, ...]] = (3600,)
    script: ClassVar[dict[str, tuple[bool, bool, float]]] = {
        "partner:1": (True, True, 0.003),
        "partner:2": (False, True, 0.040),
        "partner:3": (False, False, 1.200),
    }

    def __init__(self) -> None:
        pass

    def plan(self, event: EventRecord) -> Iterator[str]:
        return iter(self.script)

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        ok, retryable, seconds = self.script[job.target]
        return DeliveryOutcome(
            job.delivery_id,
            ok=ok,
            retryable=retryable,
            error_class=None if ok else "HTTP_503",
            duration_ms=seconds * 1000,
        )


def _record_attempts(db: Database, event_id: str) -> None:
    channel = ScriptedWebhooks()
    record = EventRecord(event_id, "release.published", 1, "hook", {})
    ids: list[int] = []
    plan_event(db, {channel.name: channel}, record, lambda item: ids.extend(item.delivery_ids))
    with db.session() as session:
        jobs = claim(session, ids)
    run_claimed(db, channel, jobs)


def _add_waiting_rows(db: Database, event_id: str) -> None:
    now = utcnow()
    with db.session() as session:
        session.add_all(
            [
                # Planned five minutes ago, never tried: email's oldest pending age.
                Delivery(
                    key=f"{event_id}:email:subscriber:1",
                    event_id=event_id,
                    channel="email",
                    target="subscriber:1",
                    created_at=now - timedelta(seconds=300),
                ),
                # A retry due 200 s ago: overdue, and webhooks' oldest pending age.
                Delivery(
                    key=f"{event_id}:webhooks:partner:4",
                    event_id=event_id,
                    channel="webhooks",
                    target="partner:4",
                    attempts=2,
                    next_attempt_at=now - timedelta(seconds=200),
                    created_at=now - timedelta(hours=1),
                ),
            ]
        )
        session.add_all(
            [
                Partner(
                    name="a", url="https://a.example", headers={}, departments=[], categories=[]
                ),
                Partner(
                    name="b",
                    url="https://b.example",
                    headers={},
                    departments=[],
                    categories=[],
                    failing_since=now - timedelta(days=1),
                ),
                Partner(
                    name="c",
                    url="https://c.example",
                    headers={},
                    departments=[],
                    categories=[],
                    state="disabled",
                ),
                Subscriber(email="a@example.kr", status="active"),
                Subscriber(email="b@example.kr", status="active"),
                Subscriber(email="c@example.kr", status="pending"),
            ]
        )
        # The event waits in the outbox, two minutes old.
        session.execute(update(OutboxEntry).values(created_at=now - timedelta(seconds=120)))


def _fill_redis(client: redis.Redis) -> None:
    client.lpush("email", *[b"m"] * 3)
    client.lpush("email\x06\x163", *[b"m"] * 2)  # a priority list counts too
    client.lpush("webhooks", b"m")
    for tag, queue in (("t1", "feeds"), ("t2", "feeds"), ("t3", "email")):
        client.hset("unacked", tag, json.dumps([{"body": "..."}, queue, queue]))
    mark_consuming(client, "feeds", worker="one@host")
    mark_consuming(client, "feeds", worker="two@host")
    mark_consuming(client, EVENTS_QUEUE, worker="one@host")


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_metrics_report_the_state_the_test_made(
    client: httpx.Client, store: Database, redis_client: redis.Redis
):
    accepted = accept_event(store, CmsEvent.model_validate(make_event(31)), webhook_id="msg_m")
    _record_attempts(store, accepted.event_id)
    _add_waiting_rows(store, accepted.event_id)
    _fill_redis(redis_client)

    samples = scrape(client)

    assert value(samples, "syndicator_queue_messages", queue="email") == 5
    assert value(samples, "syndicator_queue_messages", queue="webhooks") == 1
    assert value(samples, "syndicator_queue_messages", queue="feeds") == 0
    assert value(samples, "syndicator_queue_unacked_messages", queue="feeds") == 2
    assert value(samples, "syndicator_queue_unacked_messages", queue="email") == 1
    assert value(samples, "syndicator_queue_consumers", queue="feeds") == 2
    assert value(samples, "syndicator_queue_consumers", queue="events") == 1
    assert value(samples, "syndicator_queue_consumers", queue="email") == 0

    # Attempts, through the runner and the recorder: counters and a histogram.
    attempts = "syndicator_delivery_attempts_total"
    assert value(samples, attempts, channel="webhooks", outcome="succeeded") == 1
    assert value(samples, attempts, channel="webhooks", outcome="retrying") == 1
    assert value(samples, attempts, channel="webhooks", outcome="failed") == 1
    assert value(samples, attempts, channel="email", outcome="failed") == 0
    duration = "syndicator_delivery_attempt_duration_seconds"
    assert value(samples, f"{duration}_bucket", channel="webhooks", le="0.01") == 1
    assert value(samples, f"{duration}_bucket", channel="webhooks", le="0.05") == 2
    assert value(samples, f"{duration}_bucket", channel="webhooks", le="1.0") == 2
    assert value(samples, f"{duration}_bucket", channel="webhooks", le="+Inf") == 3
    assert value(samples, f"{duration}_count", channel="webhooks") == 3
    assert value(samples, f"{duration}_sum", channel="webhooks") == pytest.approx(1.243)

    # Retries: partner:2 waits an hour (scheduled); partner:4 is 200 s late (overdue).
    assert value(samples, "syndicator_channel_retries_scheduled", channel="webhooks") == 1
    assert value(samples, "syndicator_channel_deliveries_overdue", channel="webhooks") == 1
    assert value(samples, "syndicator_channel_deliveries_overdue", channel="email") == 0

    # Oldest ages: at least what the test set, and not much more (the test's own time).
    def age(name: str, **labels: str) -> float:
        return value(samples, name, **labels)

    assert 300 <= age("syndicator_channel_oldest_pending_age_seconds", channel="email") < 400
    assert 200 <= age("syndicator_channel_oldest_pending_age_seconds", channel="webhooks") < 300
    assert age("syndicator_channel_oldest_pending_age_seconds", channel="feeds") == 0
    assert 300 <= age("syndicator_queue_oldest_pending_age_seconds", queue="email") < 400
    assert value(samples, "syndicator_outbox_backlog") == 1
    assert 120 <= age("syndicator_outbox_oldest_age_seconds") < 220

    assert value(samples, "syndicator_partners", state="active") == 2
    assert value(samples, "syndicator_partners", state="failing") == 1
    assert value(samples, "syndicator_partners", state="disabled") == 1
    assert value(samples, "syndicator_subscribers", status="active") == 2
    assert value(samples, "syndicator_subscribers", status="pending") == 1

    # No id, address or URL ever becomes a label.
    labels = {v for _, pairs in samples for _, v in pairs}
    assert not any(re.search(r"@|://|partner:|subscriber:|evt_", v) for v in labels), labels


def test_pipeline_health_fails_without_fresh_heartbeats_and_recovers(
    client: httpx.Client, redis_client: redis.Redis
):
    mark_beat(redis_client)
    samples = scrape(client)
    assert value(samples, "syndicator_pipeline_healthy") == 0
    assert value(samples, "syndicator_pipeline_problems", kind="no_consumer") == len(ALL_QUEUES)
    assert value(samples, "syndicator_beat_up") == 1

    for queue in ALL_QUEUES:
        mark_consuming(redis_client, queue, worker="back@host")
    samples = scrape(client)
    assert value(samples, "syndicator_pipeline_healthy") == 1
    assert value(samples, "syndicator_pipeline_problems", kind="no_consumer") == 0
    assert all(value(samples, "syndicator_queue_consumers", queue=q) == 1 for q in ALL_QUEUES)


def test_claims_of_a_lost_worker_show_until_the_sweeper_releases_them(
    client: httpx.Client, store: Database, redis_client: redis.Redis
):
    mark_beat(redis_client)
    for queue in ALL_QUEUES:
        mark_consuming(redis_client, queue, worker="live@host")
    accepted = accept_event(store, CmsEvent.model_validate(make_event(33)), webhook_id="msg_l")
    with store.session() as session:
        ids = ensure_deliveries(session, accepted.event_id, "webhooks", ["partner:1", "partner:2"])
        register(session, "a" * 32, "host-a", 10, "-/-/10")  # heartbeating now
        register(session, "b" * 32, "host-b", 11, "-/-/11", now=utcnow() - timedelta(minutes=1))
    with store.session() as session:
        claim(session, ids, "b" * 32)

    samples = scrape(client)
    assert value(samples, "syndicator_worker_processes_live") == 1
    assert value(samples, "syndicator_claims_lost") == 2
    assert value(samples, "syndicator_pipeline_problems", kind="lost_claims") == 1
    assert value(samples, "syndicator_pipeline_healthy") == 0

    # What the sweeper does every few seconds.
    (released,) = release_lost(store, timedelta(seconds=20))
    assert released.reason == "heartbeat" and released.deliveries == 2
    samples = scrape(client)
    assert value(samples, "syndicator_claims_lost") == 0
    assert value(samples, "syndicator_pipeline_problems", kind="lost_claims") == 0
    assert value(samples, "syndicator_pipeline_healthy") == 1


@pytest.mark.parametrize("stale", [45, 90, 600])
def test_readiness_and_metrics_judge_workers_by_the_stale_setting(
    app_settings: Settings, store: Database, redis_client: redis.Redis, stale: int
):
    """A worker silent for a minute holds its claims under a setting longer than that, and
    has lost them under a shorter one: readiness, metrics and the sweeper agree."""
    mark_beat(redis_client)
    for queue in ALL_QUEUES:
        mark_consuming(redis_client, queue, worker="live@host")
    accepted = accept_event(store, CmsEvent.model_validate(make_event(34)), webhook_id="msg_s")
    with store.session() as session:
        ids = ensure_deliveries(session, accepted.event_id, "webhooks", ["partner:1"])
        register(session, "c" * 32, "host-c", 12, "-/-/12", now=utcnow() - timedelta(minutes=1))
    with store.session() as session:
        claim(session, ids, "c" * 32)
    settings = app_settings.with_(worker_stale_seconds=float(stale))
    lost = stale < 60
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
        samples = scrape(client)
        assert value(samples, "syndicator_worker_processes_live") == (0 if lost else 1)
        assert value(samples, "syndicator_claims_lost") == (1 if lost else 0)
        pipeline = client.get("/readyz/pipeline", headers=headers).json()
        named = any("held by worker processes that are gone" in c for c in pipeline["causes"])
        assert named == lost, pipeline
        status = client.get("/admin/status", headers=headers).json()
        assert any("gone" in c for c in status["pipeline"]) == lost, status
    released = release_lost(store, settings.worker_stale_after)
    assert [r.deliveries for r in released] == ([1] if lost else [])


def test_metrics_ask_for_a_bearer(client: httpx.Client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_a_paused_channel_says_so(client: httpx.Client, store: Database):
    assert value(scrape(client), "syndicator_channel_paused", channel="webhooks") == 0
    pause_channel(store, "test", "webhooks")
    samples = scrape(client)
    assert value(samples, "syndicator_channel_paused", channel="webhooks") == 1
    assert value(samples, "syndicator_channel_paused", channel="email") == 0


def test_every_metric_an_alert_rule_names_is_exported(client: httpx.Client):
    exported = {name for name, _ in scrape(client)}
    rules = (ROOT / "ops" / "alerts.yml").read_text()
    named = set(re.findall(r"\bsyndicator_[a-z0-9_]+", rules))
    assert named, "no metric found in the rules"
    assert named <= exported, named - exported


def test_a_read_only_metrics_token_is_accepted(app_settings: Settings):
    settings = app_settings.with_(metrics_token="prometheus-token")
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        samples = scrape(http, token="prometheus-token")
        assert value(samples, "syndicator_redis_up") == 1
        # The metrics token opens /metrics only, not the admin API.
        denied = http.get("/admin/status", headers={"Authorization": "Bearer prometheus-token"})
        assert denied.status_code == 401


def test_pipeline_health_follows_a_real_worker_stopped_and_restarted(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    """The issue's scenario end to end: a worker and beat as processes, /metrics scraped."""
    upgrade(sqlite_url)
    # Heartbeats every 2 s: a queue's proof expires after 9 s, not the default 45 s.
    env = system_env(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        SYNDICATOR_ADMIN_TOKEN=TOKEN,
        SYNDICATOR_QUEUE_HEARTBEAT_SECONDS="2",
    )
    processes = CeleryProcesses(env, tmp_path)
    app_settings = load_settings(env)
    try:
        worker = processes.worker("first")
        processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
        with serve(create_app(app_settings)) as url, httpx.Client(base_url=url, timeout=30) as http:

            def healthy() -> float:
                return value(scrape(http), "syndicator_pipeline_healthy")

            wait_for(lambda: healthy() == 1, 120, "the pipeline to be healthy")
            # The processes took the configured period: proofs last 9 s, not 45 s.
            proofs = redis.Redis.from_url(redis_url)
            assert 0 < proofs.pttl("syndicator:consuming:feeds") <= 9000
            assert 0 < proofs.pttl("syndicator:beat:alive") <= 9000
            proofs.close()
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
            # The heartbeats expire (9 s) and nobody renews them.
            wait_for(lambda: healthy() == 0, 120, "the metrics to see no worker")
            samples = scrape(http)
            assert value(samples, "syndicator_pipeline_problems", kind="no_consumer") >= 1
            processes.worker("second")
            wait_for(lambda: healthy() == 1, 120, "the metrics to see the worker back")
            assert value(scrape(http), "syndicator_queue_consumers", queue="feeds") >= 1
    finally:
        processes.stop_all()


def test_status_json_shows_the_same_numbers(
    tmp_path: Path, store: Database, redis_client: redis.Redis, redis_url: str
):
    mark_consuming(redis_client, "feeds", worker="one@host")
    redis_client.lpush("email", b"m", b"m")
    result = run_cli(
        "status",
        "--json",
        SYNDICATOR_DATA_DIR=str(tmp_path / "cli"),
        SYNDICATOR_DATABASE_URL=store.url,
        SYNDICATOR_REDIS_URL=redis_url,
    )
    assert result.returncode == 0, result.stderr
    queues = {q["name"]: q for q in json.loads(result.stdout)["metrics"]["queues"]}
    assert queues["feeds"]["consumers"] == 1
    assert queues["email"]["messages"] == 2


def test_status_piped_prints_one_queue_table_uncut(
    tmp_path: Path, store: Database, redis_client: redis.Redis, redis_url: str
):
    """`syndicator status | less`: every queue once, every column whole (no COLUMNS set,
    so rich would otherwise assume 80 columns and fold or cut the wide tables)."""
    mark_consuming(redis_client, "feeds", worker="one@host")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "status"],
        env={
            **env,
            "SYNDICATOR_DATA_DIR": str(tmp_path / "cli"),
            "SYNDICATOR_DATABASE_URL": store.url,
            "SYNDICATOR_REDIS_URL": redis_url,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if line.strip() == "Queues") == 1
    rows = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    # Each queue once in the queue table; a queue that is also a channel once more there.
    channels = {"feeds", "websub", "email", "webhooks"}
    for queue in ALL_QUEUES:
        assert rows.count(queue) == 1 + (queue in channels), (queue, result.stdout)
    header = next(line for line in lines if "oldest pending (s)" in line and "unacked" in line)
    assert "heartbeat (s ago)" in header and "workers (1 min)" in header
    assert "…" not in result.stdout and max(map(len, lines)) > 80
