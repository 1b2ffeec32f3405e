"""Daily and weekly digests: which run is due, what each subscriber has not seen yet.

A digest run is an ``events`` row of its own (``digest.daily`` / ``digest.weekly``, id
``digest-daily-20261128``), so its deliveries are ordinary ledger rows
``(digest event, email, subscriber:<id>)``: a run planned twice finds the same rows, and
the attempt log, retries and "resend the failed" work as for a release.

Items are published releases (and corrections marked ``significant``), ordered by their
outbox sequence number. The run freezes a ``cutoff``: the newest outbox number settled for
a minute (a slower intake transaction may still commit a lower number just before). Each
subscriber's ``digest_marker`` says "everything up to here was considered"; a digest holds
the matching items in ``(marker, cutoff]``, and the marker moves to ``cutoff`` in the
transaction that records the digest as sent, so no item is missed or repeated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator.i18n import DEFAULT_LANGUAGE, N_, translate
from syndicator.mail.views import EN_MONTHS, KST
from syndicator.store.db import Database
from syndicator.store.models import Event, OutboxEntry, Release, Subscriber, SubscriberTopic

__all__ = [
    "DIGEST_MODES",
    "SETTLE",
    "DigestItem",
    "Reader",
    "digest_event_id",
    "due_period",
    "due_runs",
    "ensure_digest_event",
    "items_between",
    "mark_run_planned",
    "move_markers",
    "period_label",
    "readers",
    "unseen",
]

DIGEST_MODES = ("daily", "weekly")
# How long an outbox number must have existed to be below the cutoff.
SETTLE = timedelta(minutes=1)
_EMAILED = ("release.published", "release.updated")


@dataclass(frozen=True)
class DigestItem:
    sequence: int  # the outbox number
    release_id: int
    department: str
    categories: tuple[str, ...]
    event_type: str
    release: dict[str, Any]  # the event's release object


@dataclass(frozen=True)
class Reader:
    """A digest subscriber: where they are, and what they follow."""

    id: int
    marker: int | None
    since: datetime  # before any marker: only items after they confirmed
    every_release: bool
    departments: frozenset[str]
    categories: frozenset[str]

    def wants(self, item: DigestItem) -> bool:
        if self.marker is not None and item.sequence <= self.marker:
            return False
        if self.every_release:
            return True
        return item.department in self.departments or bool(
            self.categories.intersection(item.categories)
        )


def due_period(mode: str, now: datetime, hour: int) -> date:
    """The KST day naming the newest run that is due: today once ``hour`` has passed,
    else yesterday; for weekly ones, that day's Monday (or the Monday before)."""
    local = now.astimezone(KST)
    day = local.date() if local.hour >= hour else local.date() - timedelta(days=1)
    if mode == "weekly":
        day -= timedelta(days=day.weekday())
        if day == local.date() and local.hour < hour:
            day -= timedelta(days=7)
    return day


def digest_event_id(mode: str, day: date) -> str:
    return f"digest-{mode}-{day:%Y%m%d}"


_PERIODS = {"weekly": N_("%(month)s월 %(day)s일 주간"), "daily": N_("%(month)s월 %(day)s일")}


def period_label(mode: str, day: date, language: str = DEFAULT_LANGUAGE) -> str:
    """``12월 7일``, ``11월 30일 주간``; in English, with the month's name."""
    start = day - timedelta(days=7) if mode == "weekly" else day
    names = {"month": start.month, "day": start.day, "month_name": EN_MONTHS[start.month - 1]}
    return translate(language, _PERIODS["weekly" if mode == "weekly" else "daily"]) % names


def settled_cutoff(session: Session, now: datetime) -> int:
    query = select(func.max(OutboxEntry.id)).where(OutboxEntry.created_at <= now - SETTLE)
    return int(session.scalar(query) or 0)


def ensure_digest_event(session: Session, mode: str, day: date, now: datetime) -> str | None:
    """The run's event id, its event created once; None once its planning has finished."""
    event_id = digest_event_id(mode, day)
    existing = session.get(Event, event_id)
    if existing is not None:
        return None if existing.payload.get("planned") else event_id
    payload = {"mode": mode, "period": day.isoformat(), "cutoff": settled_cutoff(session, now)}
    session.add(
        Event(
            id=event_id,
            webhook_id=f"digest:{mode}:{day.isoformat()}",
            type=f"digest.{mode}",
            release_id=None,
            source="digest",
            outcome="digest",
            received_at=now,
            payload=payload,
        )
    )
    session.flush()
    return event_id


def _significant(payload: dict[str, Any]) -> bool:
    return payload.get("significant") is True


def items_between(session: Session, after: int, cutoff: int) -> list[DigestItem]:
    """Releases to mail with an outbox number in ``(after, cutoff]``, one per release
    (its newest event), still published, in order."""
    rows = session.execute(
        select(OutboxEntry.id, Event.type, Event.payload, Release.id, Release.department)
        .join(Event, Event.id == OutboxEntry.event_id)
        .join(Release, Release.id == Event.release_id)
        .where(
            OutboxEntry.id > after,
            OutboxEntry.id <= cutoff,
            Event.source == "hook",
            Event.outcome == "applied",
            Event.type.in_(_EMAILED),
            Release.retracted_at.is_(None),
        )
        .order_by(OutboxEntry.id)
    )
    newest: dict[int, DigestItem] = {}
    for sequence, event_type, payload, release_id, department in rows:
        if event_type == "release.updated" and not _significant(payload):
            continue
        release = payload["release"]
        newest.pop(release_id, None)
        newest[release_id] = DigestItem(
            sequence,
            release_id,
            department,
            tuple(release.get("categories") or ()),
            event_type,
            release,
        )
    return sorted(newest.values(), key=lambda item: item.sequence)


def _since_sequence(session: Session, since: datetime) -> int:
    """The newest outbox number created before ``since``: a new subscriber's start."""
    query = select(func.max(OutboxEntry.id)).where(OutboxEntry.created_at < since)
    return int(session.scalar(query) or 0)


def readers(session: Session, ids: Sequence[int]) -> list[Reader]:
    if not ids:
        return []
    topics: dict[int, list[tuple[str, str]]] = {}
    for sid, kind, name in session.execute(
        select(SubscriberTopic.subscriber_id, SubscriberTopic.kind, SubscriberTopic.name).where(
            SubscriberTopic.subscriber_id.in_(list(ids))
        )
    ):
        topics.setdefault(sid, []).append((kind, name))
    found = []
    for row in session.execute(
        select(
            Subscriber.id,
            Subscriber.digest_marker,
            Subscriber.confirmed_at,
            Subscriber.created_at,
            Subscriber.every_release,
        ).where(Subscriber.id.in_(list(ids)))
    ):
        follow = topics.get(row.id, [])
        marker = row.digest_marker
        if marker is None:
            marker = _since_sequence(session, row.confirmed_at or row.created_at)
        found.append(
            Reader(
                row.id,
                marker,
                row.confirmed_at or row.created_at,
                row.every_release,
                frozenset(name for kind, name in follow if kind == "department"),
                frozenset(name for kind, name in follow if kind == "category"),
            )
        )
    return found


def unseen(reader: Reader, items: Iterable[DigestItem]) -> list[DigestItem]:
    return [item for item in items if reader.wants(item)]


def move_markers(session: Session, moves: Iterable[tuple[int, int]]) -> None:
    """Forward only: a late digest of an earlier run never moves a marker back."""
    for subscriber_id, marker in moves:
        session.execute(
            update(Subscriber)
            .where(
                Subscriber.id == subscriber_id,
                (Subscriber.digest_marker.is_(None)) | (Subscriber.digest_marker < marker),
            )
            .values(digest_marker=marker)
            .execution_options(synchronize_session=False)
        )


def now_utc() -> datetime:
    return datetime.now(UTC)


def due_runs(db: Database, digest_hour: int, now: datetime) -> list[str]:
    """The event ids of the digest runs due now and not planned yet (each created once)."""
    runs = []
    for mode in DIGEST_MODES:
        try:
            with db.session() as session:
                day = due_period(mode, now, digest_hour)
                event_id = ensure_digest_event(session, mode, day, now)
        except IntegrityError:  # another process created it this instant: its run
            continue
        if event_id is not None:
            runs.append(event_id)
    return runs


def mark_run_planned(db: Database, event_id: str) -> None:
    """After planning: a run interrupted before this is planned again (idempotently)."""
    with db.session() as session:
        event = session.get(Event, event_id, with_for_update=True)
        if event is not None:
            event.payload = {**event.payload, "planned": True}
