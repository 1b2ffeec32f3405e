"""Feeds on schedule: retraction notices leave the live feeds when their window closes."""

from __future__ import annotations

import logging

from syndicator.feeds.retractions import rerender_expired_notices
from syndicator.logs import kv
from syndicator.store.models import utcnow
from workers.app import app
from workers.process import runtime
from workers.task_names import EXPIRE_NOTICES

__all__ = ["expire_retraction_notices"]

log = logging.getLogger("syndicator.tasks")


@app.task(name=EXPIRE_NOTICES)
def expire_retraction_notices() -> None:
    rt = runtime()
    with rt.db.session() as session:
        ids = rerender_expired_notices(session, utcnow(), rt.settings.retraction_notice_days)
    if ids:
        # The sweeper hands the requeued rows to the feeds channel within seconds.
        log.info(kv(msg="retraction notices expire", releases=",".join(map(str, ids))))
