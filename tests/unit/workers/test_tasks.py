"""The thin tasks: a plan's rows go out in batches of the channel's size on its queue, a
coalescing channel gets one request, the sweeper hands due rows to their channels, and a
fan-out the database interrupted runs again in seconds."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

import workers.tasks as tasks
from syndicator.delivery.runner import Enqueue


class Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def recorder(self, name: str) -> Any:
        return lambda **options: self.calls.append((name, options))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    channels = {
        "email": SimpleNamespace(coalesce=False, batch_size=3, queue="email"),
        "feeds": SimpleNamespace(coalesce=True, batch_size=1, queue="feeds"),
    }
    monkeypatch.setattr(tasks, "runtime", lambda: SimpleNamespace(channels=channels))
    record = Sent()
    monkeypatch.setattr(tasks.deliver, "apply_async", record.recorder("deliver"))
    monkeypatch.setattr(tasks.deliver_pending, "apply_async", record.recorder("pending"))
    return record


def test_rows_go_out_in_batches_of_the_channels_size(sent: Sent) -> None:
    tasks.enqueue([Enqueue("email", tuple(range(1, 8)))])
    assert [options["args"] for _, options in sent.calls] == [
        ["email", [1, 2, 3]],
        ["email", [4, 5, 6]],
        ["email", [7]],
    ]
    assert {(name, options["queue"]) for name, options in sent.calls} == {("deliver", "email")}


def test_a_coalescing_channel_gets_one_request_whatever_the_rows(sent: Sent) -> None:
    tasks.enqueue([Enqueue("feeds", tuple(range(50)))])
    assert sent.calls == [("pending", {"args": ["feeds"], "queue": "feeds"})]


class Retried(Exception):
    pass


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (OperationalError("SELECT", {}, Exception("server closed the connection")), True),
        (ValueError("a bug"), False),
    ],
)
def test_a_fan_out_the_database_interrupted_runs_again_in_seconds(
    monkeypatch: pytest.MonkeyPatch, error: Exception, retried: bool
) -> None:
    def load_event(*_: object) -> None:
        raise error

    asked: list[dict[str, Any]] = []

    def retry(**options: Any) -> Exception:
        asked.append(options)
        return Retried()

    monkeypatch.setattr(tasks, "runtime", lambda: SimpleNamespace(db=None, channels={}))
    monkeypatch.setattr(tasks, "load_event", load_event)
    monkeypatch.setattr(tasks.fanout, "retry", retry)
    with pytest.raises(Retried if retried else ValueError):
        tasks.fanout("evt_1")
    assert [options["countdown"] for options in asked] == ([5] if retried else [])
