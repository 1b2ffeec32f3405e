"""Newsletter tasks on schedule: digests (the release mails are ordinary deliveries), and
the complaint-rate check that pauses sending."""

from __future__ import annotations

import logging

from syndicator.delivery.runner import load_event, plan_event
from syndicator.logs import kv
from syndicator.mail.digests import due_runs, mark_run_planned, now_utc
from syndicator.ops.complaint_guard import ComplaintLimit, check_complaints
from workers.app import app
from workers.process import runtime
from workers.task_names import COMPLAINT_GUARD, DIGESTS
from workers.tasks import enqueue

__all__ = ["complaint_guard", "digests"]

log = logging.getLogger("syndicator.tasks")


@app.task(name=DIGESTS)
def digests() -> None:
    """Plan the daily or weekly digest that is due, once; its rows go to the email queue
    a page at a time, like a release's."""
    rt = runtime()
    email = {"email": rt.channels["email"]}
    for event_id in due_runs(rt.db, rt.settings.digest_hour, now_utc()):
        event = load_event(rt.db, event_id)
        if event is None:
            continue
        sent = plan_event(rt.db, email, event, lambda item: enqueue([item]))
        mark_run_planned(rt.db, event.id)
        log.info(kv(msg="digest planned", event_id=event.id, recipients=sent.get("email", 0)))


@app.task(name=COMPLAINT_GUARD)
def complaint_guard() -> None:
    """Pause newsletters when the 7-day complaint rate reaches the limit."""
    rt = runtime()
    check_complaints(rt.db, ComplaintLimit.from_settings(rt.settings))
