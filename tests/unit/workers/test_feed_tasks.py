"""Retraction notices leave the live feeds after the configured window, on beat's clock."""

from __future__ import annotations

import logging
from datetime import datetime
from types import SimpleNamespace

import pytest

import workers.feed_tasks as feed_tasks
from syndicator.store.db import Database


def test_the_window_comes_from_the_settings_and_expiries_are_logged(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[datetime, int]] = []

    def rerender(session: object, now: datetime, days: int) -> list[int]:
        calls.append((now, days))
        return [867, 868]

    settings = SimpleNamespace(retraction_notice_days=14)
    monkeypatch.setattr(feed_tasks, "runtime", lambda: SimpleNamespace(db=db, settings=settings))
    monkeypatch.setattr(feed_tasks, "rerender_expired_notices", rerender)
    with caplog.at_level(logging.INFO, "syndicator.tasks"):
        feed_tasks.expire_retraction_notices()
    ((now, days),) = calls
    assert days == 14 and now.tzinfo is not None
    assert "releases=867,868" in caplog.text
