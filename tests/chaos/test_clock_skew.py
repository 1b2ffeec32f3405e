"""Clock skew on signed hooks: a CMS whose clock is off by more than the 5-minute tolerance
is refused with a 401 that says why, and nothing it sent is stored; within the tolerance it
is accepted. A newsletter and a fan-out under way carry on throughout, and readiness stays
healthy: a skewed client is no outage."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.chaos.support import chaos_system, scaled
from tests.factories import make_event

OUTSIDE = (-3600, -330, 330, 3600)  # seconds; the tolerance is 300
INSIDE = (-270, 270)


def test_hooks_signed_outside_the_tolerance_are_refused_and_nothing_is_stored(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> None:
    with chaos_system(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        subscribers=scaled(10_000, 100),
        partners=scaled(100, 5),
    ) as chaos:
        started = time.monotonic()
        chaos.publish(1)  # under way while the skewed hooks arrive
        stored = chaos.stored_events()
        for n, skew in enumerate(OUTSIDE):
            event = make_event(100 + n, title=f"시계가 {skew}초 어긋난 보도자료")
            signed_at = datetime.now(UTC) + timedelta(seconds=skew)
            answer = chaos.system.publish(event, signed_at=signed_at)
            assert answer.status_code == 401, (skew, answer.text)
            problem = answer.json()
            assert problem["title"] == "Invalid signature"
            assert "timestamp" in problem["detail"].lower(), problem
        assert chaos.stored_events() == stored, "a refused hook stored nothing"
        for n, skew in enumerate(INSIDE):
            event = make_event(200 + n, title=f"시계가 {skew}초 어긋났지만 허용되는 보도자료")
            signed_at = datetime.now(UTC) + timedelta(seconds=skew)
            answer = chaos.system.publish(event, signed_at=signed_at)
            assert answer.status_code == 202, (skew, answer.text)
            chaos.events.append(answer.json()["event_id"])
        chaos.wait_delivered("the run to deliver every accepted event")
        assert chaos.probe.reported(since=started) == [], "skewed hooks are no outage"
        chaos.verdict(
            "clock-skew", 0, refused=f"{len(OUTSIDE)} of {len(OUTSIDE) + len(INSIDE)} skewed hooks"
        )
