"""Retraction notices leave the live feeds: expired windows are rendered again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from syndicator.events.schema import CmsEvent
from syndicator.feeds.retractions import LOOKBACK, rerender_expired_notices
from syndicator.intake.accept import accept_event
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Release
from tests.factories import make_event

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
WINDOW_DAYS = 30


def _retract(db: Database, release_id: int, when: datetime, reason: str | None = None) -> None:
    published = (when - timedelta(days=3)).isoformat()
    for kind, updated in (("release.published", published), ("release.retracted", when)):
        raw = make_event(release_id, type=kind, published_at=published)
        raw["release"]["updated_at"] = updated if isinstance(updated, str) else updated.isoformat()
        if kind == "release.retracted" and reason:
            raw["reason"] = reason
        accept_event(db, CmsEvent.model_validate(raw), webhook_id=f"{kind}-{release_id}")


def test_only_windows_that_closed_lately_are_rendered_again(db: Database) -> None:
    cutoff = NOW - timedelta(days=WINDOW_DAYS)
    _retract(db, 1, cutoff + timedelta(hours=1))  # still in its window
    _retract(db, 2, cutoff - timedelta(hours=1))  # closed an hour ago
    _retract(db, 3, cutoff - LOOKBACK + timedelta(hours=1))  # closed within the lookback
    _retract(db, 4, cutoff - LOOKBACK - timedelta(hours=1), reason="오류")  # long gone
    with db.session() as session:
        assert session.get(Release, 4).retraction_reason == "오류"
        ids = rerender_expired_notices(session, NOW, WINDOW_DAYS)
    assert sorted(ids) == [2, 3]
    with db.session() as session:
        events = {session.get(Release, i).last_event_id: i for i in (2, 3)}
        rows = session.scalars(select(Delivery).where(Delivery.channel == "feeds")).all()
    assert {events[r.event_id] for r in rows if r.event_id in events} == {2, 3}
    assert all(r.status == "pending" and r.target == "site" for r in rows)
