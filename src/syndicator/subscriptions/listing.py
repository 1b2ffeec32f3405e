"""Subscribers for operators: keyset pages, and a stream for the CSV export.

Both hand out personal data in bulk, so both write an ``export`` audit row (how, which
filter, how many rows; never an address) before the first row leaves: a page in the
page's own transaction, a stream in a transaction of its own that counts the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import Subscriber
from syndicator.subscriptions.preferences import topics_by_subscriber

__all__ = [
    "EXPORT_COLUMNS",
    "STATUSES",
    "SubscriberRow",
    "audited_page",
    "csv_cells",
    "iter_all",
    "open_export",
    "page",
]

EXPORT_TARGET = "subscribers"

STATUSES = ("pending", "active", "unsubscribed", "suppressed", "erased")
# The first four are what `syndicator subscribers import` reads: an export imports back.
EXPORT_COLUMNS = (
    "email",
    "mode",
    "categories",
    "departments",
    "id",
    "status",
    "consent",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
)


@dataclass(frozen=True)
class SubscriberRow:
    id: int
    email: str | None
    status: str
    mode: str
    consent: str
    categories: list[str]
    departments: list[str]
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    # Why nothing is mailed: hard_bounce | soft_bounce | complaint | smtp, since when, and
    # the evidence's words (status code, diagnostic); None while not suppressed.
    suppressed_kind: str | None = None
    suppressed_at: datetime | None = None
    suppressed_reason: str | None = None


def page(
    session: Session, after: int = 0, limit: int = 100, status: str | None = None
) -> list[SubscriberRow]:
    """Up to ``limit`` subscribers with ids above ``after``, in id order."""
    query = select(Subscriber).where(Subscriber.id > after)
    if status is not None:
        query = query.where(Subscriber.status == status)
    subscribers = list(session.scalars(query.order_by(Subscriber.id).limit(limit)))
    topics = topics_by_subscriber(session, [s.id for s in subscribers])
    return [
        SubscriberRow(
            id=s.id,
            email=s.email,
            status=s.status,
            mode=s.mode,
            consent=s.consent,
            categories=topics[s.id]["category"],
            departments=topics[s.id]["department"],
            created_at=s.created_at,
            confirmed_at=s.confirmed_at,
            unsubscribed_at=s.unsubscribed_at,
            suppressed_kind=s.suppressed_kind,
            suppressed_at=s.suppressed_at,
            suppressed_reason=s.suppressed_reason,
        )
        for s in subscribers
    ]


def _filter(status: str | None) -> str:
    return f"status {status or 'any'}"


def audited_page(
    session: Session,
    who: str,
    via: str,
    after: int = 0,
    limit: int = 100,
    status: str | None = None,
) -> list[SubscriberRow]:
    """:func:`page`, audited in the same transaction (``via``: how it is shown)."""
    rows = page(session, after, limit, status)
    detail = f"{via}: {len(rows)} rows, {_filter(status)}, ids after {after}, limit {limit}"
    write_audit(session, who, "export", EXPORT_TARGET, detail)
    return rows


def open_export(
    db: Database, who: str, via: str, status: str | None = None, chunk: int = 1000
) -> Iterator[SubscriberRow]:
    """Write the audit row now (committed before any row is read), then stream every
    subscriber lazily with :func:`iter_all`. An audit that fails raises here, so a
    caller never starts an answer it cannot account for."""
    with db.session() as session:
        query = select(func.count()).select_from(Subscriber)
        if status is not None:
            query = query.where(Subscriber.status == status)
        count = session.scalar(query) or 0
        detail = f"{via}: {count} rows, {_filter(status)}"
        write_audit(session, who, "export", EXPORT_TARGET, detail)
    return iter_all(db, status, chunk)


def iter_all(db: Database, status: str | None = None, chunk: int = 1000) -> Iterator[SubscriberRow]:
    """Every subscriber, one short transaction per chunk: no session is held while the
    caller writes a chunk out to a slow client."""
    after = 0
    while True:
        with db.session() as session:
            rows = page(session, after, chunk, status)
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1].id


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def csv_cells(row: SubscriberRow) -> list[str]:
    """One CSV record in :data:`EXPORT_COLUMNS` order; lists joined with ``;``."""
    return [
        row.email or "",
        row.mode,
        ";".join(row.categories),
        ";".join(row.departments),
        str(row.id),
        row.status,
        row.consent,
        _when(row.created_at),
        _when(row.confirmed_at),
        _when(row.unsubscribed_at),
    ]
