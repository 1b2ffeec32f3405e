"""Quarantine: a release a channel failed on is left out of that channel alone, until the
release's next event or an operator lifts it."""

from __future__ import annotations

from sqlalchemy import select

from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.ledger.quarantine import (
    lift,
    list_quarantined,
    not_quarantined,
    quarantine,
    quarantined_among,
)
from syndicator.store.db import Database
from syndicator.store.models import Release
from tests.factories import make_event


def _releases(db: Database, *ids: int) -> None:
    for n in ids:
        accept_event(db, CmsEvent.model_validate(make_event(n)), webhook_id=f"msg_{n}")


def _kept(db: Database, channel: str) -> set[int]:
    with db.session() as session:
        return set(session.scalars(select(Release.id).where(not_quarantined(channel))))


def test_a_quarantined_release_is_left_out_of_its_channel_only(db: Database) -> None:
    _releases(db, 1, 2)
    with db.session() as session:
        record = quarantine(session, 1, "feeds", ValueError("x" * 5000))
    assert record is not None and record.error_class == "ValueError"
    assert len(record.detail) == 2000  # kept short, whatever the error says
    assert _kept(db, "feeds") == {2} and _kept(db, "websub") == {1, 2}
    with db.session() as session:
        assert set(quarantined_among(session, "feeds", [1, 2])) == {1}
        assert [q.release_id for q in list_quarantined(session)] == [1]


def test_quarantining_again_keeps_one_row_with_the_latest_error(db: Database) -> None:
    _releases(db, 1)
    with db.session() as session:
        quarantine(session, 1, "feeds", ValueError("first"))
    with db.session() as session:
        quarantine(session, 1, "feeds", KeyError("second"))
    with db.session() as session:
        (only,) = list_quarantined(session)
    assert only.error_class == "KeyError" and "second" in only.detail


def test_a_lift_for_one_channel_leaves_the_others(db: Database) -> None:
    _releases(db, 1)
    with db.session() as session:
        quarantine(session, 1, "feeds", ValueError("a"))
        quarantine(session, 1, "websub", ValueError("b"))
    with db.session() as session:
        assert lift(session, 1, "feeds") == 1
    assert _kept(db, "feeds") == {1} and _kept(db, "websub") == set()
    with db.session() as session:
        assert lift(session, 1) == 1 and lift(session, 1) == 0


def test_a_missing_release_is_not_quarantined(db: Database) -> None:
    with db.session() as session:
        assert quarantine(session, 404, "feeds", ValueError("gone")) is None
        assert list_quarantined(session) == []


def test_the_next_event_of_a_release_lifts_its_quarantine(db: Database) -> None:
    _releases(db, 1)
    with db.session() as session:
        quarantine(session, 1, "feeds", ValueError("bad"))
    update = make_event(1, title="고친 제목", updated_at="2022-10-24T09:00:00+09:00")
    accept_event(db, CmsEvent.model_validate(update), webhook_id="msg_1b")
    assert _kept(db, "feeds") == {1}
