"""Ops console sessions, kept in the database so that they can be ended.

The cookie carries a random token and nothing else. The row is keyed by the token's
SHA-256 and holds an HMAC of the admin token keyed with the session token, so neither
token can be read back from the database, and a session opened under another admin token
is refused. A session ends when its operator logs out (the row goes), after
``idle`` without a request (sliding), after ``lifetime`` whatever happens, and when the
admin token changes. A refused session's row is deleted on the spot; rows nobody comes
back for are purged by the retention task (:func:`purge_expired`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_

from syndicator.store.db import Database
from syndicator.store.models import ConsoleSession

__all__ = [
    "LIFETIME",
    "SessionFound",
    "close_session",
    "open_session",
    "purge_expired",
    "resume_session",
]

LIFETIME = timedelta(hours=8)  # one working shift, however active
_NAME_CHARS = 100


@dataclass(frozen=True)
class SessionFound:
    ref: str  # a short public name for the session (the audit log's console:<ref>)
    who: str
    csrf: str  # the CSRF token this session's forms carry


def _row_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def open_session(db: Database, admin_token: str, who: str, now: datetime) -> str:
    """A new session for ``who``; returns the token for the cookie (stored nowhere)."""
    token = secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(
            ConsoleSession(
                id=_row_id(token),
                who=who[:_NAME_CHARS],
                token_mac=_mac(token, admin_token),
                created_at=now,
                last_seen_at=now,
            )
        )
    return token


def resume_session(
    db: Database,
    token: str,
    admin_token: str,
    now: datetime,
    idle: timedelta,
    touch: bool = True,
) -> SessionFound | None:
    """The live session the cookie names, or None (and its row deleted) when it was
    closed, has been idle too long, outlived :data:`LIFETIME` or was opened under another
    admin token. ``touch``: this request is the operator's own, so the idle clock
    restarts (a page's automatic refresh is not)."""
    if not token:
        return None
    row_id = _row_id(token)
    with db.session() as session:
        row = session.get(ConsoleSession, row_id)
        if row is None:
            return None
        valid = (
            hmac.compare_digest(row.token_mac, _mac(token, admin_token))
            and now - row.last_seen_at <= idle
            and now - row.created_at <= LIFETIME
        )
        if not valid:
            session.delete(row)
            return None
        if touch:
            row.last_seen_at = now
        return SessionFound(ref=row_id[:8], who=row.who, csrf=_mac(token, "ops-csrf"))


def close_session(db: Database, token: str) -> None:
    """Log out: the session is gone for every copy of its cookie."""
    with db.session() as session:
        session.execute(delete(ConsoleSession).where(ConsoleSession.id == _row_id(token)))


def purge_expired(db: Database, now: datetime, idle: timedelta) -> int:
    """Delete the sessions that can no longer be resumed; returns how many went."""
    with db.session() as session:
        gone = session.execute(
            delete(ConsoleSession).where(
                or_(
                    ConsoleSession.last_seen_at < now - idle,
                    ConsoleSession.created_at < now - LIFETIME,
                )
            )
        )
        return int(getattr(gone, "rowcount", 0) or 0)
