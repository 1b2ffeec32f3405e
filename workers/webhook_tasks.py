"""Retention: attempt-log rows, and ops console sessions nobody can resume any more."""

from __future__ import annotations

import logging
from datetime import timedelta

from syndicator.ledger.retention import delete_attempts_before
from syndicator.logs import kv
from syndicator.ops.console_sessions import purge_expired
from syndicator.store.models import utcnow
from workers.app import app
from workers.process import runtime
from workers.task_names import PRUNE_ATTEMPTS

__all__ = ["prune_attempts"]

log = logging.getLogger("syndicator.tasks")


@app.task(name=PRUNE_ATTEMPTS)
def prune_attempts() -> None:
    """Delete attempt-log rows older than SYNDICATOR_ATTEMPT_RETENTION_DAYS, in batches,
    and console sessions that have expired."""
    rt = runtime()
    cutoff = utcnow() - timedelta(days=rt.settings.attempt_retention_days)
    deleted = delete_attempts_before(rt.db, cutoff)
    if deleted:
        log.info(kv(msg="attempts pruned", deleted=deleted, before=cutoff.isoformat()))
    idle = timedelta(minutes=rt.settings.console_idle_minutes)
    ended = purge_expired(rt.db, utcnow(), idle)
    if ended:
        log.info(kv(msg="console sessions purged", deleted=ended))
