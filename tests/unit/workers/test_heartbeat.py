"""The heartbeat thread sends one expiring heartbeat task to each queue it consumes, and
keeps beating through a broker error."""

from __future__ import annotations

from typing import Any

from workers.heartbeat import Heartbeat
from workers.task_names import HEARTBEAT


class Broker:
    """Stands in for the Celery app's ``send_task``: records, fails on request, and stops
    the heartbeat after ``rounds`` rounds so no test waits for its period."""

    def __init__(self, rounds: int, fail_first: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.rounds = rounds
        self.fail_first = fail_first
        self.heartbeat: Heartbeat | None = None
        self.calls = 0

    def send_task(self, name: str, **options: Any) -> None:
        self.calls += 1
        if self.fail_first and self.calls == 1:
            raise ConnectionError("broker away")
        self.sent.append({"name": name, **options})
        if self.heartbeat is not None and len(self.sent) >= self.rounds * 2:
            self.heartbeat.stop()


PERIOD = 7.5  # SYNDICATOR_QUEUE_HEARTBEAT_SECONDS


def _run(broker: Broker) -> list[dict[str, Any]]:
    heartbeat = Heartbeat(broker, ["events", "email"], PERIOD)  # type: ignore[arg-type]
    broker.heartbeat = heartbeat
    # The period between rounds passes at once: the rounds, not the clock, are under test.
    heartbeat.stopping.wait = lambda timeout=None: heartbeat.stopping.is_set()  # type: ignore
    heartbeat.run()
    return broker.sent


def test_one_expiring_heartbeat_per_queue_per_round() -> None:
    sent = _run(Broker(rounds=2))
    assert [s["queue"] for s in sent] == ["events", "email", "events", "email"]
    assert all(s["name"] == HEARTBEAT and s["args"] == [s["queue"]] for s in sent)
    assert all(s["expires"] == PERIOD * 3 and s["retry"] is False for s in sent)


def test_a_broker_error_skips_a_round_not_the_thread() -> None:
    sent = _run(Broker(rounds=1, fail_first=True))
    assert [s["queue"] for s in sent] == ["events", "email"]
