"""SMTP: the mail server answers 421 to every message for a while (60 s at full scale),
in the middle of a newsletter. Readiness names the refusing server; mail waits (deferred,
no attempt spent) and is sent once the server takes it again."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from syndicator.store.models import DeliveryAttempt
from tests.chaos.support import chaos_system, ride_out, scaled_seconds

REFUSAL = "421 4.3.2 Service not available, closing transmission channel"


def test_a_newsletter_deferred_by_421_is_sent_once_the_server_takes_mail_again(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> None:
    with chaos_system(tmp_path, sqlite_url, redis_url, cms_secret, partners=0) as chaos:
        # The server itself starts refusing a fifth of the way in, where ride_out waits:
        # a newsletter this small could otherwise end before the test's thread breaks it.
        chaos.smtp.refuse_from = (max(1, int(chaos.subscribers * 0.2)), REFUSAL)
        chaos.publish(1)
        figures = ride_out(
            chaos,
            "smtp-421",
            stop=lambda: setattr(chaos.smtp, "refusing", REFUSAL),
            start=lambda: (
                setattr(chaos.smtp, "refuse_from", None),
                setattr(chaos.smtp, "refusing", None),
            ),
            cause="mail server defers mail (421, or no connection): 421",
            # Longer than the retry spacing (2, 3 and 5 s, FAST_RETRIES, and beat's sweep
            # every 5 s): rows meet the 421 again, not once.
            seconds=scaled_seconds(60, 15),
        )
        # A 421 is the server's limit, not the message's fault: rows wait as deferrals
        # (no attempt spent), each connection resting longer at each 421 in a row.
        assert chaos.attempts("retrying", DeliveryAttempt.status_code == 421) == 0
        log = (tmp_path / "system.log").read_text(errors="replace")
        deferred = Counter(
            re.findall(r"delivery deferred.*reason=smtp_421.*delivery_id=(\d+)", log)
        )
        assert deferred, "no row was deferred by the 421"
        again = sum(1 for times in deferred.values() if times >= 2)
        assert again > 0, "no row met the 421 twice: the window is shorter than the rests"
        print(f"{figures.scenario}: {sum(deferred.values())} deferrals of {len(deferred)} rows")
