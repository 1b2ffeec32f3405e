"""A partner's portal sessions, kept in the database beside the ops console's.

They share the ``console_sessions`` table and its rules (the cookie's random token is
stored only as its SHA-256; idle time, a fixed lifetime, logout and retention end one),
but a portal row names ``partner:<id>`` and its MAC binds the token to that partner, not
to the admin token: a portal cookie opens no console, and a console cookie no portal.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicator.ops.console_sessions import LIFETIME, close_session
from syndicator.ops.console_sessions import _mac as mac
from syndicator.ops.console_sessions import _row_id as row_id
from syndicator.store.db import Database
from syndicator.store.models import ConsoleSession

__all__ = ["PortalSession", "close_session", "open_portal_session", "resume_portal_session"]


@dataclass(frozen=True)
class PortalSession:
    partner_id: int
    ref: str  # short public name of the session, for the audit log
    csrf: str


def _who(partner_id: int) -> str:
    return f"partner:{partner_id}"


def open_portal_session(db: Database, partner_id: int, now: datetime) -> str:
    """A new session for the partner; returns the cookie's token (stored nowhere)."""
    token = secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(
            ConsoleSession(
                id=row_id(token),
                who=_who(partner_id),
                token_mac=mac(token, f"portal:{partner_id}"),
                created_at=now,
                last_seen_at=now,
            )
        )
    return token


def resume_portal_session(
    db: Database, token: str, now: datetime, idle: timedelta
) -> PortalSession | None:
    """The live portal session the cookie names, or None (and a stale row deleted)."""
    if not token:
        return None
    with db.session() as session:
        row = session.get(ConsoleSession, row_id(token))
        if row is None:
            return None
        kind, _, ref = row.who.partition(":")
        if kind != "partner" or not ref.isdigit():
            return None  # a console session: not ours to end
        partner_id = int(ref)
        valid = (
            hmac.compare_digest(row.token_mac, mac(token, f"portal:{partner_id}"))
            and now - row.last_seen_at <= idle
            and now - row.created_at <= LIFETIME
        )
        if not valid:
            session.delete(row)
            return None
        row.last_seen_at = now
        return PortalSession(partner_id, row.id[:8], mac(token, "portal-csrf"))
