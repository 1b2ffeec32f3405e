"""The consumer survives Celery's second close of a broken connection: the connection is
dropped and the acks-late tasks it held are cancelled, so Redis hands them out again."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.state import active_requests

from workers.consumer import Consumer


class Request:
    def __init__(self, acks_late: bool, acknowledged: bool) -> None:
        self.task = SimpleNamespace(acks_late=acks_late)
        self.acknowledged = acknowledged
        self.cancelled = False

    def cancel(self, pool: Any) -> None:
        self.cancelled = True


def _consumer(cancel_on_loss: bool) -> Consumer:
    consumer = Consumer.__new__(Consumer)  # no broker: only the error path is under test
    consumer.app = SimpleNamespace(  # type: ignore[assignment]
        conf=SimpleNamespace(worker_cancel_long_running_tasks_on_connection_loss=cancel_on_loss)
    )
    consumer.pool = object()
    consumer.connection = object()
    return consumer


@pytest.fixture
def celery_fails_its_second_close(monkeypatch: pytest.MonkeyPatch) -> None:
    def second_close(self: Any, exc: Exception) -> None:
        raise AttributeError("'NoneType' object has no attribute 'restore_unacked_once'")

    monkeypatch.setattr(CeleryConsumer, "on_connection_error_after_connected", second_close)


@pytest.mark.usefixtures("celery_fails_its_second_close")
def test_unacknowledged_acks_late_tasks_are_cancelled_and_the_worker_goes_on() -> None:
    held = Request(acks_late=True, acknowledged=False)
    done = Request(acks_late=True, acknowledged=True)
    early = Request(acks_late=False, acknowledged=False)
    active_requests.update({held, done, early})
    try:
        consumer = _consumer(cancel_on_loss=True)
        consumer.on_connection_error_after_connected(ConnectionError("redis gone"))
    finally:
        active_requests.difference_update({held, done, early})
    assert consumer.connection is None
    assert held.cancelled and not done.cancelled and not early.cancelled


@pytest.mark.usefixtures("celery_fails_its_second_close")
def test_nothing_is_cancelled_when_the_app_says_not_to() -> None:
    held = Request(acks_late=True, acknowledged=False)
    active_requests.add(held)
    try:
        _consumer(cancel_on_loss=False).on_connection_error_after_connected(ConnectionError())
    finally:
        active_requests.discard(held)
    assert not held.cancelled
