"""Worker children: the prefork pool processes of `syndicator run`'s worker are SIGKILLed
in the middle of a newsletter and a partner fan-out, three times. Celery starts new ones;
the dead ones' claims are worked again within seconds, not after their lease, nothing is
lost, and only work in flight is sent twice."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.chaos.support import (
    chaos_system,
    claims,
    scaled,
    still_claimed,
    until,
    worker_main,
)
from tests.integration.webhook_receiver import Reply
from tests.processes import children_of

KILLS = 3
# A dead worker's claims are released within 30 s (the issue); the bound leaves room for a
# loaded machine, and is a bound against hanging, not a measure.
RELEASE_SECONDS = 60.0


def test_pool_processes_killed_three_times_mid_batch_lose_nothing(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> None:
    subscribers = scaled(10_000, 600)
    with chaos_system(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        subscribers=subscribers,
        partners=scaled(100, 20),
    ) as chaos:
        for name in chaos.partner_names:
            chaos.partners.script(name, *[Reply(delay=0.3)] * 3)
        # A slower mail server: the newsletter lasts long enough for three kills.
        chaos.smtp.delay = 0.05
        for release in range(1, 4):
            chaos.publish(release)
        assert chaos.system.process is not None
        worker = worker_main(chaos.system.process.pid)
        caught: list[tuple[float, set[tuple[int, str]]]] = []  # (when, claims) per kill
        killed_processes = 0
        progress = chaos.expected()[0] // 50
        for kill in range(1, KILLS + 1):
            seen = len(chaos.smtp.received)
            state: dict[str, object] = {}

            def mid_batch(seen: int = seen, state: dict[str, object] = state) -> bool:
                state.update(
                    mails=len(chaos.smtp.received) - seen,
                    claimed=len(claims(chaos.db)),
                    pool=children_of(worker),
                )
                return bool(state["mails"] >= progress and state["claimed"] and state["pool"])

            try:
                until(mid_batch, 180, f"a batch in flight again before kill {kill}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {state}, ledger {chaos.statuses()}") from None
            pool = children_of(worker)
            held = claims(chaos.db)
            for pid in pool:
                os.kill(pid, signal.SIGKILL)
            caught.append((time.monotonic(), held | claims(chaos.db)))
            killed_processes += len(pool)
        released = []
        for killed, held in caught:
            until(
                lambda h=held: not still_claimed(chaos.db, h),
                RELEASE_SECONDS - (time.monotonic() - killed),
                "the claims of the processes killed to be worked again",
            )
            released.append(time.monotonic() - killed)
        in_flight = set().union(*(held for _, held in caught))
        chaos.wait_delivered("every delivery after the kills")
        # No outage to report: the claims of the dead are released before a probe could
        # name them, and the pipeline stays healthy.
        chaos.wait_healthy()
        assert chaos.system.process.poll() is None, "the run survived its pool being killed"
        chaos.verdict(
            "worker-children",
            len(in_flight),
            kills=f"{KILLS} ({killed_processes} processes)",
            released="≤ " + ", ".join(f"{s:.1f}" for s in released) + " s after each kill",
        )
