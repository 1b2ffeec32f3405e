"""Writing the audit log: the one function every domain change calls in its own
transaction (who acted, what, on which target). Reading it and naming actors is
``syndicator.ops.audit``'s; this lives in the store so domain packages need not import
the operators' package."""

from __future__ import annotations

from sqlalchemy.orm import Session

from syndicator.store.models import AuditEntry, utcnow

__all__ = ["write_audit"]

_WHO_CHARS = 200
_TARGET_CHARS = 200
_DETAIL_CHARS = 1000


def write_audit(
    session: Session, who: str, action: str, target: str, detail: str = ""
) -> AuditEntry:
    """In the action's own transaction, so an action and its record commit together.
    Flushed at once: a row the database refuses fails the action before it commits."""
    entry = AuditEntry(
        at=utcnow(),
        who=who[:_WHO_CHARS],
        action=action,
        target=target[:_TARGET_CHARS],
        detail=detail[:_DETAIL_CHARS] or None,
    )
    session.add(entry)
    session.flush()
    return entry
