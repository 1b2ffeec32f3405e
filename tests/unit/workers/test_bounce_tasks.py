"""The bounce mailbox task: IDLE for most of the interval, within Celery's soft limit, and
scheduled only where a mailbox is configured."""

from __future__ import annotations

import subprocess
import sys

from syndicator.ledger.claims import TASK_SOFT_TIME_LIMIT_SECONDS
from workers.bounce_tasks import idle_seconds


def test_idle_takes_most_of_the_interval_and_ends_before_the_soft_limit() -> None:
    assert idle_seconds(60) == 54
    assert idle_seconds(0.01) < 0.01
    assert 0 < idle_seconds(3600) < TASK_SOFT_TIME_LIMIT_SECONDS


def _scheduled(env: dict[str, str]) -> str:
    code = "from workers.app import app; print(sorted(app.conf.beat_schedule))"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout


def test_beat_reads_the_mailbox_only_when_one_is_configured(tmp_path: object) -> None:
    base = {"SYNDICATOR_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    assert "read-bounce-mailbox" not in _scheduled(base)
    with_box = {**base, "SYNDICATOR_BOUNCE_MAILBOX": "imaps://u:p@mail.example/INBOX"}
    assert "read-bounce-mailbox" in _scheduled(with_box)
