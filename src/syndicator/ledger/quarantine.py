"""Releases a channel left out because rendering or delivering them failed.

A quarantined release fails alone: its channel goes on with everything else, and the
release's next applied event (update or retraction) or an operator's retry lifts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.orm import Session

from syndicator.store.models import Quarantine, Release

__all__ = [
    "QuarantinedRelease",
    "lift",
    "list_quarantined",
    "not_quarantined",
    "quarantine",
    "quarantined_among",
]

_DETAIL_CHARS = 2000


@dataclass(frozen=True)
class QuarantinedRelease:
    release_id: int
    channel: str
    event_id: str
    error_class: str
    detail: str
    since: datetime

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "since": self.since.isoformat()}


def _record(row: Quarantine) -> QuarantinedRelease:
    return QuarantinedRelease(
        row.release_id, row.channel, row.event_id, row.error_class, row.detail, row.quarantined_at
    )


def not_quarantined(channel: str) -> ColumnElement[bool]:
    """A filter for queries over ``Release``: leave out what ``channel`` quarantined."""
    return ~exists().where(Quarantine.release_id == Release.id, Quarantine.channel == channel)


def quarantine(
    session: Session, release_id: int, channel: str, error: BaseException
) -> QuarantinedRelease | None:
    """Quarantine one release for one channel; None if the release no longer exists."""
    event_id = session.scalar(select(Release.last_event_id).where(Release.id == release_id))
    if event_id is None:
        return None
    session.execute(
        delete(Quarantine).where(Quarantine.release_id == release_id, Quarantine.channel == channel)
    )
    row = Quarantine(
        release_id=release_id,
        channel=channel,
        event_id=event_id,
        error_class=type(error).__name__[:80],
        detail=(str(error) or repr(error))[:_DETAIL_CHARS],
    )
    session.add(row)
    session.flush()
    return _record(row)


def lift(session: Session, release_id: int, channel: str | None = None) -> int:
    """Take a release out of quarantine (for one channel or all); returns rows removed."""
    query = delete(Quarantine).where(Quarantine.release_id == release_id)
    if channel is not None:
        query = query.where(Quarantine.channel == channel)
    result = session.execute(query.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def quarantined_among(
    session: Session, channel: str, release_ids: Iterable[int]
) -> dict[int, QuarantinedRelease]:
    ids = list(release_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(Quarantine).where(Quarantine.channel == channel, Quarantine.release_id.in_(ids))
    )
    return {row.release_id: _record(row) for row in rows}


def list_quarantined(session: Session, limit: int | None = None) -> Sequence[QuarantinedRelease]:
    query = select(Quarantine).order_by(Quarantine.quarantined_at.desc(), Quarantine.release_id)
    if limit is not None:
        query = query.limit(limit)
    return [_record(row) for row in session.scalars(query)]
