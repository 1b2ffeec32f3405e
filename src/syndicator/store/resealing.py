"""Seal every stored secret again under the newest encryption key.

After a new key is put first in SYNDICATOR_ENCRYPTION_KEYS (the old one still listed
after it), this re-encrypts every sealed value, read a page at a time, so that the old key
can then be dropped. A row is written back only if it is still what was read (a
concurrent change is left alone and counted), a value sealed under the newest key
already is left as it is, and a value that no configured key opens is reported by
partner, not fatal: everything else is still resealed.

One transaction holds the whole rotation and its audit row, like every other change an
operator makes: it is all done and recorded, or none of it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import Partner, PartnerClientCert, PartnerSecret
from syndicator.store.sealed import Keyring, Sealed, UnreadableSecret

__all__ = ["AUDIT_ACTION", "AUDIT_TARGET", "PAGE", "ResealReport", "count_sealed", "reseal_all"]

PAGE = 200
# The audit row: what was done, to what (every sealed value, not one partner).
AUDIT_ACTION = "rotate-encryption"
AUDIT_TARGET = "partner-secrets"

# (table, its sealed column, the partner it belongs to, what one value is)
_SEALED: tuple[tuple[Any, Any, Any, str], ...] = (
    (PartnerSecret, PartnerSecret.secret, PartnerSecret.partner_id, "a signing key"),
    (Partner, Partner.secret_headers, Partner.id, "its secret headers"),
    (PartnerClientCert, PartnerClientCert.key, PartnerClientCert.partner_id, "its client key"),
)


@dataclass
class ResealReport:
    resealed: int = 0
    current: int = 0  # already under the newest key
    changed: int = 0  # changed by someone else meanwhile: left alone
    unreadable: list[str] = field(default_factory=list)  # "partner 7: a signing key"

    def summary(self) -> str:
        """For the audit log: counts, never a value."""
        return (
            f"resealed={self.resealed} current={self.current} changed={self.changed} "
            f"unreadable={len(self.unreadable)}"
        )


def count_sealed(db: Database) -> int:
    with db.read_session() as session:
        return sum(
            int(session.scalar(select(func.count()).where(column.is_not(None))) or 0)
            for _, column, _, _ in _SEALED
        )


def reseal_all(
    db: Database, ring: Keyring, who: str, advance: Callable[[int], None] = lambda n: None
) -> ResealReport:
    """Reseal everything in one transaction with its audit row, naming ``who`` (an actor
    of ops/audit.py)."""
    report = ResealReport()
    with db.session() as session:
        for table, column, owner, what in _SEALED:
            after = 0
            while True:
                rows = session.execute(
                    select(table.id, owner, column)
                    .where(table.id > after, column.is_not(None))
                    .order_by(table.id)
                    .limit(PAGE)
                ).all()
                for row_id, partner_id, sealed in rows:
                    outcome = _reseal_one(session, ring, table, column, row_id, sealed)
                    if outcome == "unreadable":
                        report.unreadable.append(f"partner {partner_id}: {what}")
                    else:
                        setattr(report, outcome, getattr(report, outcome) + 1)
                if not rows:
                    break
                after = rows[-1][0]
                advance(len(rows))
        write_audit(session, who, AUDIT_ACTION, AUDIT_TARGET, report.summary())
    return report


def _reseal_one(
    session: Session, ring: Keyring, table: Any, column: Any, row_id: int, sealed: Sealed
) -> str:
    """resealed | current | changed | unreadable"""
    if ring.is_current(sealed):
        return "current"
    try:
        fresh = ring.rotate(sealed)
    except UnreadableSecret:
        return "unreadable"
    written = session.execute(
        update(table)
        .where(table.id == row_id, column == sealed)
        .values({column.key: fresh})
        .execution_options(synchronize_session=False)
    )
    return "resealed" if getattr(written, "rowcount", 0) else "changed"
