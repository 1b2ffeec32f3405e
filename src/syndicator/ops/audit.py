"""The audit log: every change an operator makes and every export of personal data,
whether it was done in the ops console, through the admin API or on the command line.

The domain function that makes the change writes the row
(:func:`syndicator.store.audit.write_audit`) inside
its own transaction, so no entry point can forget it and a change that rolls back leaves
no row. ``who`` names the actor without a secret: ``api:<token fingerprint>[:<name>]``,
``console:<session ref>:<name>`` or ``cli:<user>``. A detail says what an auditor needs
(which fields changed, how many rows, which filter), never a secret or an address.
"""

from __future__ import annotations

import getpass
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from syndicator.store.db import Database
from syndicator.store.models import AuditEntry

__all__ = [
    "AuditLine",
    "api_actor",
    "cli_operator",
    "recent_actions",
    "token_fingerprint",
]

_NAME_CHARS = 100


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    who: str
    action: str
    target: str
    detail: str | None


def token_fingerprint(token: str) -> str:
    """A short, one-way name for a bearer token: which token acted (before or after a
    rotation) without the token itself."""
    return hashlib.sha256(b"syndicator-admin-token:" + token.encode()).hexdigest()[:12]


def api_actor(token: str, name: str = "") -> str:
    """``api:<fingerprint>``, with the name a script gives (``X-Operator``) after it."""
    name = name.strip()[:_NAME_CHARS]
    return f"api:{token_fingerprint(token)}" + (f":{name}" if name else "")


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
