"""A worker killed with SIGKILL in the middle of a 2,000-recipient newsletter.

Real Celery workers, a real SMTP server (aiosmtpd). Afterwards every recipient has exactly
one ``succeeded`` row, the server saw every recipient, and the only ones it saw twice were
sent but not yet recorded at the kill (outcomes are committed every 100 rows, and a few
messages are in flight at once).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import redis
from sqlalchemy import func, select

from syndicator.channels.email import EmailChannel
from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.runtime.coordination import nudge_relay
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, DeliveryAttempt
from tests.factories import make_event
from tests.mail_server import running_mail_server
from tests.newsletter_support import add_subscribers
from tests.processes import CeleryProcesses, kill_group
from tests.system import system_env, wait_for

RECIPIENTS = 2000


def succeeded_per_target(db: Database) -> Counter[str]:
    with db.session() as session:
        rows = session.execute(
            select(Delivery.target, func.count())
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .where(Delivery.channel == "email", DeliveryAttempt.outcome == "succeeded")
            .group_by(Delivery.target)
        )
        return Counter({target: count for target, count in rows})


def test_a_newsletter_resumes_after_its_worker_is_killed(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> None:
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    add_subscribers(db, RECIPIENTS)
    with running_mail_server() as smtp:
        smtp.delay = 0.003  # ~ a few seconds for the whole send: time to kill it midway
        env = system_env(
            tmp_path,
            sqlite_url,
            redis_url,
            cms_secret,
            SYNDICATOR_VISIBILITY_TIMEOUT="3",
            SYNDICATOR_SMTP_URL=smtp.url,
            SYNDICATOR_TOKEN_KEYS="crash-test-token-key",
        )
        processes = CeleryProcesses(env, tmp_path)
        queues = (EVENTS_QUEUE, "email")
        client = redis.Redis.from_url(redis_url)
        try:
            doomed = processes.worker("doomed", queues)
            wait_for(lambda: client.exists("syndicator:consuming:email"), what="the worker")
            processes.start("beat", "beat", "--schedule", str(tmp_path / "beat-schedule"))
            event = make_event(900, title="2,000명에게 보내다 멈춘 소식지")
            accept_event(db, CmsEvent.model_validate(event), webhook_id="msg_newsletter_crash")
            nudge_relay(client)
            wait_for(lambda: len(smtp.received) >= 600, 90, "the newsletter to be under way")
            kill_group(doomed)
            # A message whose DATA arrived before the kill is kept after the server's delay:
            # count what was received once the dead worker's sessions are closed.
            wait_for(lambda: smtp.sessions_open == 0, 60, "the killed worker's sessions to end")
            seen = Counter(r.recipients[0] for r in list(smtp.received))
            recorded = succeeded_per_target(db)
            assert len(seen) < RECIPIENTS, "killed too late to test anything"
            assert set(seen.values()) == {1} and set(recorded.values()) <= {1}
            unrecorded = len(seen) - len(recorded)
            print(f"killed after {len(seen)} messages, {unrecorded} not yet recorded")
            # Outcomes are committed every flush_rows rows; a few more were in flight.
            assert unrecorded <= EmailChannel.flush_rows + EmailChannel.concurrency

            # No claim lease to wait for: the sweeper sees the dead worker's processes are
            # gone and returns their claims, and a new worker sends the rest.
            processes.worker("survivor", queues)
            wait_for(lambda: len(succeeded_per_target(db)) == RECIPIENTS, 180, "every recipient")
        finally:
            processes.stop_all()

        per_target = succeeded_per_target(db)
        assert set(per_target.values()) == {1}, "exactly one succeeded row each"
        with db.session() as session:
            statuses = Counter(
                session.scalars(select(Delivery.status).where(Delivery.channel == "email"))
            )
        assert statuses == {"succeeded": RECIPIENTS}
        seen = Counter(r.recipients[0] for r in smtp.received)
        assert set(seen) == {f"r{n}@example.org" for n in range(RECIPIENTS)}, "nobody skipped"
        twice = sum(1 for count in seen.values() if count > 1)
        print(f"sent twice: {twice}")
        assert max(seen.values()) <= 2 and twice <= unrecorded
    db.dispose()
