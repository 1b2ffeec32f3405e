"""Durable intake: the event, the release version and the outbox row in one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator.events.schema import CmsEvent, EventType
from syndicator.events.schema import Release as ReleaseSchema
from syndicator.ledger.quarantine import lift
from syndicator.logs import kv
from syndicator.store.db import Database
from syndicator.store.models import Event, OutboxEntry, Release, ReleaseCategory
from syndicator.store.search import index_release
from syndicator.store.taxonomy import slug_for
from syndicator.tracing import current_traceparent

__all__ = [
    "MAX_WEBHOOK_ID",
    "IntakeResult",
    "accept_event",
    "import_events",
    "new_event_id",
    "store_event",
]

log = logging.getLogger("syndicator.intake")

# The events.webhook_id column's width.
MAX_WEBHOOK_ID = 200

IntakeOutcome = Literal["applied", "stale", "unchanged", "duplicate"]


@dataclass(frozen=True)
class IntakeResult:
    event_id: str
    outcome: IntakeOutcome
    queued: bool

    @property
    def message(self) -> str:
        return {
            "applied": "accepted and queued for delivery",
            "stale": "accepted; a newer version is already stored, so nothing changed",
            "unchanged": "accepted; identical to the stored version, so nothing changed",
            "duplicate": "already accepted under this webhook-id; nothing changed",
        }[self.outcome]


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def _content(release: ReleaseSchema) -> dict[str, object]:
    return release.model_dump(mode="json", exclude={"views"})


def _decide(
    existing: Release | None, event: CmsEvent, stored_payload: dict | None
) -> IntakeOutcome:
    if existing is None:
        return "applied"
    incoming = event.release.updated_at
    if incoming < existing.updated_at:
        return "stale"
    if incoming == existing.updated_at and stored_payload is not None:
        same_state = (existing.retracted_at is not None) == (event.type == EventType.RETRACTED)
        if same_state and stored_payload.get("release") is not None:
            stored = ReleaseSchema.model_validate(stored_payload["release"])
            if _content(stored) == _content(event.release):
                return "unchanged"
    return "applied"


def _apply(session: Session, event: CmsEvent, event_id: str, existing: Release | None) -> None:
    data = event.release
    # What a permanent id or URL is made of is set on first sight only, never on update.
    row = existing or Release(id=data.id, first_published_at=data.published_at)
    row.title = data.title
    row.subtitle = data.subtitle
    row.summary = data.summary
    row.body_html = data.body_html
    row.department = data.department
    row.department_slug = slug_for(session, "department", data.department)
    row.contact = data.contact.model_dump(mode="json") if data.contact else None
    row.categories = list(data.categories)
    row.url = str(data.url)
    row.published_at = data.published_at
    row.updated_at = data.updated_at
    row.attachments = [a.model_dump(mode="json") for a in data.attachments]
    row.license = data.license
    row.views = data.views
    retracted = event.type == EventType.RETRACTED
    row.retracted_at = data.updated_at if retracted else None
    row.retraction_reason = (event.reason or None) if retracted else None
    row.last_event_id = event_id
    if existing is None:
        session.add(row)
    else:
        session.execute(delete(ReleaseCategory).where(ReleaseCategory.release_id == data.id))
        # A new version is a new chance: every channel tries the release again.
        lift(session, data.id)
    slugs = {slug_for(session, "category", name) for name in data.categories}
    session.add_all(
        ReleaseCategory(release_id=data.id, slug=s, published_at=data.published_at)
        for s in sorted(slugs)
    )
    session.flush()  # the index row refers to the release (PostgreSQL's foreign key)
    index_release(session, data.id, data.title, data.subtitle, data.body_html)


def store_event(
    session: Session,
    event: CmsEvent,
    *,
    webhook_id: str,
    source: str,
    enqueue: bool,
    body_sha256: str | None = None,
) -> IntakeResult:
    """Record one event inside the caller's transaction."""
    existing = session.get(Release, event.release.id, with_for_update=True)
    stored_payload = None
    if existing is not None:
        stored_payload = session.scalar(
            select(Event.payload).where(Event.id == existing.last_event_id)
        )
    outcome = _decide(existing, event, stored_payload)
    event_id = new_event_id()
    session.add(
        Event(
            id=event_id,
            webhook_id=webhook_id,
            type=event.type.value,
            release_id=event.release.id,
            source=source,
            outcome=outcome,
            payload=event.model_dump(mode="json"),
            body_sha256=body_sha256,
        )
    )
    queued = False
    if outcome == "applied":
        _apply(session, event, event_id, existing)
        if enqueue:
            session.add(OutboxEntry(event_id=event_id, traceparent=current_traceparent()))
            queued = True
    return IntakeResult(event_id=event_id, outcome=outcome, queued=queued)


def _previous(db: Database, webhook_id: str, body_sha256: str | None) -> IntakeResult | None:
    with db.session() as session:
        found = session.execute(
            select(Event.id, Event.body_sha256).where(Event.webhook_id == webhook_id)
        ).first()
        if found is None:
            return None
        event_id, stored = found
        if body_sha256 is not None and stored is not None and stored != body_sha256:
            # Still a duplicate (the first body won), but the sender has a bug: count it.
            session.execute(
                update(Event)
                .where(Event.id == event_id)
                .values(mismatched_replays=Event.mismatched_replays + 1)
            )
            log.warning(
                kv(
                    msg="webhook-id replayed with a different body; first body kept",
                    webhook_id=webhook_id,
                    event_id=event_id,
                )
            )
    return IntakeResult(event_id, "duplicate", False)


def accept_event(
    db: Database, event: CmsEvent, *, webhook_id: str, body_sha256: str | None = None
) -> IntakeResult:
    """Commit a hook's event; the same webhook-id is accepted once and acknowledged always."""
    for attempt in range(3):
        previous = _previous(db, webhook_id, body_sha256)
        if previous is not None:
            return previous
        try:
            with db.session() as session:
                return store_event(
                    session,
                    event,
                    webhook_id=webhook_id,
                    source="hook",
                    enqueue=True,
                    body_sha256=body_sha256,
                )
        except IntegrityError:
            # A concurrent request won a race: the same webhook-id (answered above on the
            # next pass), or the first version of the same new release (applied on top).
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _import_key(event: CmsEvent) -> str:
    release = event.release
    return f"import:{release.id}:{release.updated_at.isoformat()}:{event.type.value}"


def import_events(db: Database, events: Iterable[CmsEvent], *, batch_size: int = 500) -> int:
    """Backfill: store releases with no outbox rows, so nobody is emailed or called."""
    count = 0
    batch: list[CmsEvent] = []

    def flush() -> None:
        keyed = {_import_key(item): item for item in batch}
        with db.session() as session:
            # Importing the same archive twice is a no-op, not an error.
            seen = set(session.scalars(select(Event.webhook_id).where(Event.webhook_id.in_(keyed))))
            for key, item in keyed.items():
                if key not in seen:
                    store_event(session, item, webhook_id=key, source="import", enqueue=False)
        batch.clear()

    for item in events:
        batch.append(item)
        count += 1
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return count
