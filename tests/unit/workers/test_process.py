"""Per-process resources: built once per process, built again after a fork, and closed
by ``close_runtime`` (which does nothing in a process that never ran a task)."""

from __future__ import annotations

import pytest

import workers.process as process
from syndicator.config import Settings


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setattr(process, "settings", settings)
    monkeypatch.setattr(process, "_current", None)
    monkeypatch.setattr(process, "_liveness", None)


@pytest.mark.usefixtures("fresh")
def test_one_runtime_per_process_and_a_new_one_after_a_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = process.runtime()
    assert process.runtime() is first
    assert set(first.channels) >= {"feeds", "email", "webhooks"}
    parent = process.os.getpid()
    monkeypatch.setattr(process.os, "getpid", lambda: parent + 1)  # the prefork child
    child = process.runtime()
    assert child is not first and process.runtime() is child
    process.close_runtime()
    assert process._current is None
    monkeypatch.setattr(process.os, "getpid", lambda: parent)
    first.db.dispose()
    first.redis.close()


@pytest.mark.usefixtures("fresh")
def test_a_process_that_ran_nothing_closes_nothing_and_was_never_heard() -> None:
    process.close_runtime()
    assert process._current is None and process.heard_for() == 0.0
