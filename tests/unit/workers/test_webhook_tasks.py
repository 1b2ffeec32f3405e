"""Attempt-log retention is a registered task that beat runs on a schedule."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

import workers.webhook_tasks as webhook_tasks
from workers.app import app
from workers.task_names import PRUNE_ATTEMPTS


def test_beat_runs_the_retention_task():
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert PRUNE_ATTEMPTS in scheduled
    assert app.tasks[PRUNE_ATTEMPTS].name == webhook_tasks.prune_attempts.name


def test_the_cutoff_follows_the_retention_setting(monkeypatch: pytest.MonkeyPatch):
    seen = []
    settings = SimpleNamespace(attempt_retention_days=7, console_idle_minutes=30)
    runtime = SimpleNamespace(settings=settings, db=object())
    monkeypatch.setattr(webhook_tasks, "runtime", lambda: runtime)
    monkeypatch.setattr(webhook_tasks, "purge_expired", lambda db, now, idle: 0)
    monkeypatch.setattr(
        webhook_tasks, "delete_attempts_before", lambda db, cutoff: seen.append(cutoff) or 0
    )
    before = webhook_tasks.utcnow()
    webhook_tasks.prune_attempts()
    (cutoff,) = seen
    assert (
        before - timedelta(days=7, seconds=5)
        < cutoff
        <= before - timedelta(days=7) + timedelta(seconds=5)
    )
