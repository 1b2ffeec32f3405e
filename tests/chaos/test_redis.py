"""Redis: the broker (as compose runs it: append-only, fsync every second) is restarted in
the middle of a newsletter and a fan-out, and a publish arrives while it is down. The hook
still answers 202 (the outbox holds the event), readiness names Redis while it is away,
and everything is delivered once it is back."""

from __future__ import annotations

from pathlib import Path

from tests.chaos.services import ExternalRedis
from tests.chaos.support import chaos_system, ride_out, scaled_seconds


def test_a_redis_restart_mid_flight_loses_nothing_and_a_publish_while_it_is_down_waits(
    tmp_path: Path, sqlite_url: str, cms_secret: str
) -> None:
    broker = ExternalRedis(tmp_path / "redis")
    broker.start()
    try:
        with chaos_system(tmp_path, sqlite_url, broker.url, cms_secret) as chaos:
            chaos.publish(1)
            ride_out(
                chaos,
                "redis-restart",
                stop=broker.stop,
                start=broker.start,
                cause="Redis",
                seconds=scaled_seconds(30, 2),
                while_down=lambda: chaos.publish(2),  # the outbox holds it
            )
    finally:
        broker.stop()
