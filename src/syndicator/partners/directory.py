"""Which partners an event goes to, and what a delivery needs to know about one.

Reads only: the admin API (registry.py) writes partners. Planning pages through active
partners in short sessions, never holding one across a ``yield``.

Snapshots carry the partner's secrets opened (signing keys, secret headers), once per
snapshot and not per delivery. A partner whose secrets no configured key opens gets a
snapshot saying so (``unreadable``): its rows fail naming it, and the others go out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from syndicator.store.db import Database
from syndicator.store.models import Partner, PartnerClientCert, PartnerSecret
from syndicator.store.sealed import Keyring, Sealed, UnreadableSecret

__all__ = [
    "PAGE",
    "PartnerSnapshot",
    "active_partner_targets",
    "load_snapshots",
    "partner_id",
    "receives",
]

PAGE = 500
_PREFIX = "partner:"


@dataclass(frozen=True)
class PartnerSnapshot:
    """A partner as one delivery sees it; ``secrets`` are the keys still signing."""

    id: int
    name: str
    url: str
    state: str  # active | disabled | deleted
    disabled_reason: str | None
    headers: Mapping[str, str]
    max_in_flight: int | None
    rate_limit_per_s: float | None
    secrets: tuple[str, ...]
    # Why the partner's sealed secrets could not be opened; None when they were.
    unreadable: str | None = None
    # (certificate chain, key), PEM, for a partner that requires mutual TLS.
    client_tls: tuple[str, str] | None = None


def partner_id(target: str) -> int:
    """``partner:7`` -> 7."""
    return int(target.removeprefix(_PREFIX))


def _folded(names: Sequence[Any] | None) -> set[str]:
    return {str(name).casefold() for name in names or ()}


def receives(
    event_type: str,
    release: Mapping[str, Any],
    event_types: Sequence[Any] | None,
    departments: Sequence[Any] | None,
    categories: Sequence[Any] | None,
) -> bool:
    """Whether a partner's filters take this event: no event types means every type, no
    departments (categories) means every department (category); names match ignoring case."""
    if event_types is not None and event_type not in event_types:
        return False
    if departments and str(release.get("department", "")).casefold() not in _folded(departments):
        return False
    return not categories or bool(_folded(release.get("categories")) & _folded(categories))


def active_partner_targets(
    db: Database, event_type: str, release: Mapping[str, Any]
) -> Iterator[str]:
    """``partner:<id>`` for every active partner whose filters take the event."""
    after = 0
    while True:
        with db.read_session() as session:
            rows = session.execute(
                select(Partner.id, Partner.event_types, Partner.departments, Partner.categories)
                .where(Partner.state == "active", Partner.id > after)
                .order_by(Partner.id)
                .limit(PAGE)
            ).all()
        if not rows:
            return
        for row in rows:
            if receives(event_type, release, row.event_types, row.departments, row.categories):
                yield f"{_PREFIX}{row.id}"
        after = rows[-1].id


def load_snapshots(session: Session, now: datetime, ring: Keyring) -> dict[int, PartnerSnapshot]:
    """Every partner with the keys still signing, in three queries: a worker refreshes
    them all every second rather than asking once per delivery."""
    keys: dict[int, list[Sealed]] = {}
    for owner, secret in session.execute(
        select(PartnerSecret.partner_id, PartnerSecret.secret)
        .where(or_(PartnerSecret.expires_at.is_(None), PartnerSecret.expires_at > now))
        .order_by(PartnerSecret.id.desc())  # the newest first
    ):
        keys.setdefault(owner, []).append(secret)
    certs = {
        row.partner_id: (row.certificate, row.key)
        for row in session.execute(
            select(
                PartnerClientCert.partner_id, PartnerClientCert.certificate, PartnerClientCert.key
            )
        )
    }
    rows = session.execute(
        select(
            Partner.id,
            Partner.name,
            Partner.url,
            Partner.state,
            Partner.disabled_reason,
            Partner.headers,
            Partner.secret_headers,
            Partner.max_in_flight,
            Partner.rate_limit_per_s,
        )
    )
    snapshots = {}
    for row in rows:
        headers = {str(k): str(v) for k, v in (row.headers or {}).items() if v is not None}
        try:
            secrets = tuple(ring.open(sealed) for sealed in keys.get(row.id, ()))
            if row.secret_headers is not None:
                headers |= json.loads(ring.open(row.secret_headers))
            client_tls = None
            if row.id in certs:
                certificate, sealed_key = certs[row.id]
                client_tls = (certificate, ring.open(sealed_key))
            unreadable = None
        except UnreadableSecret as exc:
            secrets, unreadable = (), f"partner {row.id} ({row.name}): its secrets are {exc}"
            client_tls = None
        snapshots[row.id] = PartnerSnapshot(
            id=row.id,
            name=row.name,
            url=row.url,
            state=row.state,
            disabled_reason=row.disabled_reason,
            headers=headers,
            max_in_flight=row.max_in_flight,
            rate_limit_per_s=row.rate_limit_per_s,
            secrets=secrets,
            unreadable=unreadable,
            client_tls=client_tls,
        )
    return snapshots
