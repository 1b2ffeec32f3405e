"""Intake: an event, its release version and its outbox row are stored together, once per
webhook-id; older and identical versions are acknowledged and change nothing; a backfill
stores releases with no outbox row at all."""

from __future__ import annotations

from sqlalchemy import func, select

from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event, import_events
from syndicator.store.db import Database
from syndicator.store.models import Event, OutboxEntry, Release
from tests.factories import make_event


def _event(release_id: int, **release: object) -> CmsEvent:
    return CmsEvent.model_validate(make_event(release_id, **release))


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_event_is_stored_with_its_release_and_outbox_row(db: Database) -> None:
    result = accept_event(db, _event(1), webhook_id="msg_1")
    assert result.outcome == "applied" and result.queued
    with db.session() as session:
        assert session.get(Release, 1) is not None
        outbox = session.scalars(select(OutboxEntry.event_id)).all()
    assert outbox == [result.event_id]


def test_a_webhook_id_is_accepted_once_and_acknowledged_always(db: Database) -> None:
    first = accept_event(db, _event(2), webhook_id="msg_2", body_sha256="a" * 64)
    again = accept_event(db, _event(2), webhook_id="msg_2", body_sha256="a" * 64)
    assert again.event_id == first.event_id
    assert _count(db, Event) == 1 and _count(db, OutboxEntry) == 1


def test_an_older_or_identical_version_changes_nothing(db: Database) -> None:
    newer = _event(3, updated_at="2022-10-24T09:00:00+09:00")
    older = _event(3, title="옛 제목", updated_at="2022-10-23T09:00:00+09:00")
    assert accept_event(db, newer, webhook_id="msg_3a").outcome == "applied"
    assert accept_event(db, older, webhook_id="msg_3b").outcome == "stale"
    unchanged = accept_event(db, newer, webhook_id="msg_3c")
    assert unchanged.outcome == "unchanged" and not unchanged.queued
    assert _count(db, OutboxEntry) == 1  # only the applied version goes out
    with db.session() as session:
        release = session.get(Release, 3)
        assert release is not None and release.title != "옛 제목"


def test_a_backfill_queues_nothing_and_twice_is_once(db: Database) -> None:
    events = [_event(n) for n in range(10, 15)]
    assert import_events(db, events, batch_size=2) == 5
    assert import_events(db, events, batch_size=2) == 5
    assert _count(db, Release) == 5 and _count(db, Event) == 5
    assert _count(db, OutboxEntry) == 0  # nobody is emailed or called for the archive
