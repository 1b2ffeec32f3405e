"""Rendered feed documents in the database: written by any publisher, read by every web node.

Publishers are serialised (:func:`syndicator.store.locks.exclusive`), so the next version
is simply the newest plus one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from syndicator.store.models import PublishedDocument

__all__ = [
    "Document",
    "NewDocument",
    "changed_since",
    "current_version",
    "etag_of",
    "exists",
    "load",
    "paths",
    "save",
]

_CHUNK = 500  # paths per IN (...): far below every backend's bound-parameter limit


class NewDocument(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def content_time(self) -> datetime: ...


@dataclass(frozen=True)
class Document:
    path: str
    body: bytes
    etag: str
    last_modified: datetime
    version: int


def etag_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def current_version(session: Session) -> int:
    return int(session.scalar(select(func.max(PublishedDocument.version))) or 0)


def changed_since(session: Session, version: int) -> list[tuple[str, int]]:
    """(path, version) of every document written or removed after ``version``."""
    query = select(PublishedDocument.path, PublishedDocument.version).where(
        PublishedDocument.version > version
    )
    return [(path, int(v)) for path, v in session.execute(query)]


def load(session: Session, path: str) -> Document | None:
    row = session.get(PublishedDocument, path)
    if row is None or row.body is None:
        return None
    return Document(row.path, row.body, row.etag, row.last_modified, int(row.version))


def exists(session: Session, path: str) -> bool:
    query = select(PublishedDocument.path).where(
        PublishedDocument.path == path, PublishedDocument.body.is_not(None)
    )
    return session.scalar(query) is not None


def paths(session: Session) -> list[str]:
    """Every document currently published."""
    query = select(PublishedDocument.path).where(PublishedDocument.body.is_not(None))
    return list(session.scalars(query))


def _stored(session: Session, wanted: Sequence[str]) -> dict[str, tuple[str, datetime | None]]:
    found: dict[str, tuple[str, datetime | None]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = select(
            PublishedDocument.path,
            PublishedDocument.etag,
            PublishedDocument.last_modified,
            PublishedDocument.body.is_(None),
        ).where(PublishedDocument.path.in_(chunk))
        for path, etag, last_modified, removed in session.execute(query):
            found[path] = ("" if removed else etag, last_modified)
    return found


def _last_modified(content_time: datetime, previous: datetime | None) -> datetime:
    wanted = content_time.astimezone(UTC).replace(microsecond=0)
    if previous is None:
        return wanted
    # Content can change without a newer entry (a move to another department, an entry
    # leaving an archive month): step past the old second.
    return max(wanted, previous.replace(microsecond=0) + timedelta(seconds=1))


def save(
    session: Session, documents: Sequence[NewDocument], removals: Iterable[str] = ()
) -> dict[str, datetime]:
    """Write the documents whose bytes differ and remove the given paths, as one version.

    Returns the changed paths with their Last-Modified (removals are not included).
    """
    stored = _stored(session, [d.path for d in documents])
    version = current_version(session) + 1
    changed: dict[str, datetime] = {}
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for doc in documents:
        etag = etag_of(doc.data)
        old_etag, old_modified = stored.get(doc.path, ("", None))
        if etag == old_etag:
            continue
        modified = _last_modified(doc.content_time, old_modified)
        row = {
            "path": doc.path,
            "body": doc.data,
            "etag": etag,
            "last_modified": modified,
            "version": version,
        }
        (updates if doc.path in stored else inserts).append(row)
        changed[doc.path] = modified
    # Bulk statements by primary key: no SELECT per document, as session.merge would do.
    if inserts:
        session.execute(insert(PublishedDocument), inserts)
    if updates:
        session.execute(update(PublishedDocument), updates)
    gone = list(removals)
    for start in range(0, len(gone), _CHUNK):
        session.execute(
            update(PublishedDocument)
            .where(
                PublishedDocument.path.in_(gone[start : start + _CHUNK]),
                PublishedDocument.body.is_not(None),
            )
            .values(body=None, etag="", version=version)
            .execution_options(synchronize_session=False)
        )
    return changed
