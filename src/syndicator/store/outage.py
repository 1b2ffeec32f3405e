"""Which database errors mean "not now" rather than "wrong": the server restarting, a
switchover under way, a dropped connection, SQLite's lock held too long. Their unit of
work never committed (or, for a commit whose answer was lost, is safe to try again: every
write path is idempotent), so a caller answers 503 with Retry-After or tries again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc

from syndicator.logs import kv

__all__ = ["READ_ONLY_SQL_TRANSACTION", "RETRY_AFTER_SECONDS", "is_unavailable", "retrying"]

log = logging.getLogger("syndicator.store")
T = TypeVar("T")

# What a client is told to wait: a restart or a switchover takes seconds.
RETRY_AFTER_SECONDS = 5

# A write on a server that is (or has become) a standby, or a primary being demoted.
READ_ONLY_SQL_TRANSACTION = "25006"
# SQLSTATEs of a server that cannot serve now: read-only, and cannot connect now / admin,
# crash shutdown (class 57P).
_UNAVAILABLE_STATES = {READ_ONLY_SQL_TRANSACTION, "57P01", "57P02", "57P03"}


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` is the database being away, not the statement being at fault."""
    if isinstance(error, exc.DBAPIError):
        state = getattr(error.orig, "sqlstate", None)
        return (
            error.connection_invalidated
            or isinstance(error, exc.OperationalError)
            or state in _UNAVAILABLE_STATES
        )
    # No connection free in the pool in time: the others are stuck on a dead server.
    return isinstance(error, exc.TimeoutError)


def retrying(work: Callable[[], T], seconds: float, what: str) -> T:
    """``work``, a whole unit of work, tried again while the database is unavailable, for
    up to ``seconds`` (a restart or a switchover); any other error, or one past the
    deadline, is raised. ``work`` must be safe to repeat after a commit whose answer was
    lost."""
    deadline = time.monotonic() + seconds
    pause = 0.25
    while True:
        try:
            return work()
        except Exception as error:
            if not is_unavailable(error) or time.monotonic() + pause > deadline:
                raise
            log.warning(
                kv(msg="database unavailable; trying again", work=what, error=type(error).__name__)
            )
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
