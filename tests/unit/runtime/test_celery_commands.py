"""Celery's command lines, as `syndicator run` starts them and `syndicator worker` and
`syndicator beat` become them."""

from __future__ import annotations

import sys

from syndicator.runtime.celery_commands import beat_command, worker_command

CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


def test_the_operators_options_come_last_so_theirs_win() -> None:
    assert beat_command(["--loglevel", "DEBUG"]) == [
        *CELERY,
        "beat",
        "--loglevel",
        "INFO",
        "--loglevel",
        "DEBUG",
    ]
    assert worker_command(["events", "feeds"], 2, ["-O", "fair"]) == [
        *CELERY,
        "worker",
        "--loglevel",
        "INFO",
        "-Q",
        "events,feeds",
        "--concurrency",
        "2",
        "-O",
        "fair",
    ]


def test_without_a_size_celery_picks_the_pool_size() -> None:
    assert "--concurrency" not in worker_command(["events"])
