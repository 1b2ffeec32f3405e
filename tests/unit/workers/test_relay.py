"""The relay sends each committed event's fan-out by name to the events queue, once, and
only while its beat's lease on the beat lock lasts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import workers.relay as relay_module
from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.runtime.lease import Lease
from syndicator.store.db import Database
from tests.factories import make_event
from workers.relay import Relay
from workers.task_names import FANOUT


class Broker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task(self, name: str, **options: Any) -> None:
        self.sent.append((name, options))


def test_committed_events_go_to_the_events_queue_by_name_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay_module, "runtime", lambda: SimpleNamespace(db=db))
    ids = [
        accept_event(db, CmsEvent.model_validate(make_event(n)), webhook_id=f"m{n}").event_id
        for n in (1, 2)
    ]
    broker = Broker()
    lease = Lease(10, 1)
    relay = Relay(broker, lease)  # type: ignore[arg-type]
    assert relay.run_once() == 0 and broker.sent == []  # not the active beat
    lease.renewed(lease.now())
    assert relay.run_once() == 2 and relay.run_once() == 0
    assert [options["args"] for _, options in broker.sent] == [[ids[0]], [ids[1]]]
    assert {(name, options["queue"]) for name, options in broker.sent} == {(FANOUT, EVENTS_QUEUE)}


def test_stop_ends_the_loop() -> None:
    relay = Relay(Broker(), Lease(10, 1))  # type: ignore[arg-type]
    relay.stop()
    assert relay.stopping.is_set()
