"""The Celery app's reliability settings: at-least-once, no second run of a running task,
and every scheduled or routed task a registered one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from syndicator.channels.registry import ALL_QUEUES
from syndicator.ledger.claims import CLAIM_LEASE, TASK_TIME_LIMIT_SECONDS
from workers.app import RESTORE_SCAN_SECONDS, app


def test_a_task_is_acknowledged_only_after_it_ran() -> None:
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1


def test_a_running_task_is_never_handed_to_a_second_worker() -> None:
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert app.conf.task_time_limit == TASK_TIME_LIMIT_SECONDS < visibility
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert CLAIM_LEASE.total_seconds() > TASK_TIME_LIMIT_SECONDS  # a live claim outlasts it
    assert 1 <= RESTORE_SCAN_SECONDS <= visibility / 10 or RESTORE_SCAN_SECONDS == 1


def test_every_scheduled_and_routed_task_is_registered() -> None:
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled | set(app.conf.task_routes) <= set(app.tasks)


def test_each_queue_has_an_exchange_of_its_own() -> None:
    queues = {q.name: q for q in app.conf.task_queues}
    assert set(queues) == set(ALL_QUEUES)
    assert len({q.exchange.name for q in queues.values()}) == len(queues)
    assert all(q.routing_key == name for name, q in queues.items())


def test_beat_checks_the_complaint_rate_as_often_as_configured(tmp_path: Path) -> None:
    code = (
        "from workers.app import app; "
        "print(app.conf.beat_schedule['check-complaint-rate']['schedule'])"
    )

    def interval(**env: str) -> str:
        given = {"SYNDICATOR_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", **env}
        run = subprocess.run(
            [sys.executable, "-c", code], env=given, capture_output=True, text=True, check=True
        )
        return run.stdout.strip()

    assert interval() == "60.0"
    assert interval(SYNDICATOR_COMPLAINT_CHECK_SECONDS="2.5") == "2.5"
