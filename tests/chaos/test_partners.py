"""Partners: 30 % of them fail for a while, a third each answering 500, hanging past the
timeout, or resetting the connection. Every partner gets every event; a partner that
deduplicates on webhook-id keeps each once."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import or_

from syndicator.store.models import DeliveryAttempt
from tests.chaos.support import chaos_system, scaled
from tests.integration.webhook_receiver import Reply

# Each faulty partner fails this many times in a row, then answers 200.
FAULTS_EACH = 2
FAULTS = {
    "500": Reply(status=500, body=b"internal error"),
    "hang": Reply(delay=6.0),  # past SYNDICATOR_WEBHOOK_TIMEOUT (3 s, FAST_RETRIES)
    "reset": Reply(reset=True),
}


def test_partners_that_fail_hang_or_reset_get_every_event_once_they_answer(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> None:
    partners = scaled(100, 20)
    events = scaled(20, 3)
    with chaos_system(
        tmp_path, sqlite_url, redis_url, cms_secret, subscribers=scaled(1000, 20), partners=partners
    ) as chaos:
        faulty = chaos.partner_names[: round(partners * 0.3)]
        kinds = list(FAULTS)
        for n, name in enumerate(faulty):
            chaos.partners.script(name, *[FAULTS[kinds[n % len(kinds)]]] * FAULTS_EACH)
        started = time.monotonic()
        for release in range(1, events + 1):
            chaos.publish(release)
        chaos.wait_delivered("every partner to get every event")
        # Attempts whose answer the sender never read: the partner may hold them.
        unanswered = chaos.attempts(
            "retrying", or_(DeliveryAttempt.status_code.is_(None), DeliveryAttempt.status_code == 0)
        )
        failed_attempts = chaos.attempts("retrying")
        assert failed_attempts >= len(faulty), "the faulty partners were never tried"
        # A partner's outage is the partner's: the system stays ready throughout.
        assert chaos.probe.reported(since=started) == []
        chaos.verdict(
            "partners",
            unanswered,
            faulty=f"{len(faulty)} of {partners}",
            retried=f"{failed_attempts} attempts",
        )
