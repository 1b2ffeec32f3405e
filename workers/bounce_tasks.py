"""The bounce mailbox, on beat's clock: each run reads SYNDICATOR_BOUNCE_MAILBOX, records
what every message says through the same ingest as the pipe, and moves it away.

A run waits in IMAP IDLE for most of the poll interval (where the server offers it), so it
holds one worker process of the events queue while it waits. A Redis lock keeps runs from
overlapping: a run that finds another still reading returns at once.
"""

from __future__ import annotations

import contextlib
import logging

import redis
from imapclient import IMAPClient
from sqlalchemy.exc import OperationalError

from syndicator.bounces.ingest import ingest_message
from syndicator.bounces.mailbox import Verdict, parse_mailbox_url, poll, verdict_of
from syndicator.bounces.recording import Outcome
from syndicator.ledger.claims import TASK_SOFT_TIME_LIMIT_SECONDS
from syndicator.logs import kv
from syndicator.ops.complaint_guard import after_reports
from workers.app import app
from workers.process import runtime
from workers.task_names import READ_BOUNCE_MAILBOX

__all__ = ["idle_seconds", "read_bounce_mailbox"]

log = logging.getLogger("syndicator.tasks")

_LOCK = "syndicator:bounce-mailbox"
# Time a run keeps for connecting, draining and logging out, around its IDLE.
_MARGIN_SECONDS = 40.0


def idle_seconds(poll_seconds: float) -> float:
    """Most of the interval, and never so long that Celery's soft limit ends the run."""
    return max(0.0, min(poll_seconds * 0.9, TASK_SOFT_TIME_LIMIT_SECONDS - _MARGIN_SECONDS))


@app.task(name=READ_BOUNCE_MAILBOX)
def read_bounce_mailbox() -> None:
    rt = runtime()
    settings = rt.settings
    if not settings.bounce_mailbox:
        return
    mailbox = parse_mailbox_url(settings.bounce_mailbox)
    idle = idle_seconds(settings.bounce_mailbox_poll_seconds)
    lock = rt.redis.lock(_LOCK, timeout=idle + 2 * _MARGIN_SECONDS, blocking=False)
    if not lock.acquire(blocking=False):
        return

    def handle(raw: bytes) -> Verdict:
        result = ingest_message(raw, "imap", rt.db, settings)
        recorded = (f.kind for f, o in result.outcomes if o.outcome is Outcome.RECORDED)
        after_reports(rt.db, settings, recorded)  # a complaint may pause newsletters now
        return verdict_of(result)

    try:
        poll(
            mailbox,
            (settings.bounce_mailbox_processed, settings.bounce_mailbox_unhandled),
            handle,
            idle_seconds=idle,
            ca_file=settings.bounce_mailbox_ca_file,
        )
    except OperationalError as exc:
        # The message being read and every later one stay in the mailbox for the next run.
        log.warning(kv(msg="bounce mailbox left as is: database unavailable", error=str(exc)[:200]))
    except (IMAPClient.Error, OSError) as exc:
        log.warning(
            kv(msg="bounce mailbox unreachable", host=mailbox.host, error=type(exc).__name__)
        )
    finally:
        # Expired meanwhile: the next run takes it anew.
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()
