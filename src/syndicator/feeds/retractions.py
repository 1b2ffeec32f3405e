"""When a retraction notice leaves the live feeds.

A retracted release stays in live RSS and JSON Feed as a notice for
``settings.retraction_notice_days``. Rendering decides from the clock at render time, so a
feed re-rendered after the window drops the notice; but a department feed may not be
re-rendered for months. A daily task therefore asks the feeds channel to render again the
scopes of every release whose window closed in the last two days (twice at most, and a
render that changes nothing writes nothing).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator.feeds.queries import CHANNEL, SITE_TARGET
from syndicator.ledger.targets import requeue
from syndicator.store.models import Release

__all__ = ["LOOKBACK", "notice_cutoff", "rerender_expired_notices"]

# Two days: a daily run that beat missed once still finds what expired.
LOOKBACK = timedelta(days=2)


def notice_cutoff(now: datetime, days: int) -> datetime:
    """Releases retracted at or after this still show a notice."""
    return now - timedelta(days=days)


def rerender_expired_notices(session: Session, now: datetime, days: int) -> list[int]:
    """Queue the feeds delivery of every release whose notice window closed lately, so
    the next render leaves it out; returns their ids."""
    cutoff = notice_cutoff(now, days)
    rows = session.execute(
        select(Release.id, Release.last_event_id).where(
            Release.retracted_at >= cutoff - LOOKBACK, Release.retracted_at < cutoff
        )
    ).all()
    for _, event_id in rows:
        requeue(session, event_id, CHANNEL, SITE_TARGET)
    return [release_id for release_id, _ in rows]
