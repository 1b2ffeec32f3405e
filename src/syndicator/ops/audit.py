"""The audit log: every operator action, who, what and when, whether it was taken in the
ops console, through the admin API or on the command line."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, utcnow

__all__ = ["AuditLine", "audit", "cli_operator", "recent_actions", "write_audit"]

_WHO_CHARS = 200
_TARGET_CHARS = 200


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    who: str
    action: str
    target: str
    detail: str | None


def write_audit(session: Session, who: str, action: str, target: str, detail: str = "") -> None:
    """In the action's own transaction, so an action and its record commit together."""
    session.add(
        AuditEntry(
            at=utcnow(),
            who=who[:_WHO_CHARS],
            action=action,
            target=target[:_TARGET_CHARS],
            detail=detail or None,
        )
    )


def audit(db: Database, who: str, action: str, target: str, detail: str = "") -> None:
    """Record an action that committed in its own transactions (an API or CLI call)."""
    with db.session() as session:
        write_audit(session, who, action, target, detail)


def cli_operator() -> str:
    """Who runs a command: the operating-system user, as ``cli:<user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return "cli"


def recent_actions(db: Database, limit: int = 50) -> list[AuditLine]:
    with db.read_session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        return [AuditLine(r.at, r.who, r.action, r.target, r.detail) for r in rows]
