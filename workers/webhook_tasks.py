"""Partner-webhook tasks: attempt-log retention."""

from __future__ import annotations

import logging
from datetime import timedelta

from syndicator.logs import kv
from syndicator.store.models import utcnow
from syndicator.store.retention import delete_attempts_before
from workers.app import app
from workers.process import runtime
from workers.task_names import PRUNE_ATTEMPTS

__all__ = ["prune_attempts"]

log = logging.getLogger("syndicator.tasks")


@app.task(name=PRUNE_ATTEMPTS)
def prune_attempts() -> None:
    """Delete attempt-log rows older than SYNDICATOR_ATTEMPT_RETENTION_DAYS, in batches."""
    rt = runtime()
    cutoff = utcnow() - timedelta(days=rt.settings.attempt_retention_days)
    deleted = delete_attempts_before(rt.db, cutoff)
    if deleted:
        log.info(kv(msg="attempts pruned", deleted=deleted, before=cutoff.isoformat()))
