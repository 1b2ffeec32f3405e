"""A partner's health, moved in the transaction that records its attempts.

``failing_since`` is the first failure since the last success. A partner that has only
failed for :data:`DISABLE_AFTER` is disabled, as is one that answered 410 Gone: both say
the endpoint is gone, and retrying it for days helps nobody. Operators see the state and
its reason in the partner API; re-enabling starts afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syndicator.store.models import Partner, utcnow

__all__ = ["DISABLE_AFTER", "NOT_CONTACTED", "Disabled", "Observation", "next_state", "observe"]

DISABLE_AFTER = timedelta(days=5)
# Outcomes that never reached the partner say nothing about its health.
NOT_CONTACTED = frozenset(
    {"partner-disabled", "partner-deleted", "no-signing-key", "event-missing"}
)


@dataclass(frozen=True)
class Observation:
    partner_id: int
    at: datetime
    succeeded: bool
    status_code: int | None
    error_class: str | None


@dataclass(frozen=True)
class Disabled:
    partner_id: int
    name: str
    url: str
    reason: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def observe(session: Session, observations: Sequence[Observation]) -> list[Disabled]:
    """Move each partner's failing-since time; return the partners this disabled. Partners
    that only succeeded are cleared in one statement, with no read; the others are read
    once for the batch, and written only when their state changes."""
    by_partner: dict[int, list[Observation]] = {}
    for item in observations:
        if item.error_class not in NOT_CONTACTED:
            by_partner.setdefault(item.partner_id, []).append(item)
    healthy = sorted(p for p, seen in by_partner.items() if all(s.succeeded for s in seen))
    if healthy:
        session.execute(
            update(Partner)
            .where(Partner.id.in_(healthy), Partner.failing_since.is_not(None))
            .values(failing_since=None)
        )
    troubled = sorted(set(by_partner) - set(healthy))
    if not troubled:
        return []
    rows = session.execute(
        select(Partner.id, Partner.name, Partner.url, Partner.failing_since)
        .where(Partner.id.in_(troubled), Partner.state == "active")
        .order_by(Partner.id)
    ).all()
    disabled: list[Disabled] = []
    for row in rows:
        seen = sorted(by_partner[row.id], key=lambda s: _aware(s.at))
        failing_since, reason = next_state(row.failing_since, seen)
        if reason is not None:
            _disable(session, row.id, reason)
            disabled.append(Disabled(row.id, row.name, row.url, reason))
        elif failing_since != row.failing_since:
            session.execute(
                update(Partner).where(Partner.id == row.id).values(failing_since=failing_since)
            )
    return disabled


def next_state(
    failing_since: datetime | None, seen: Sequence[Observation]
) -> tuple[datetime | None, str | None]:
    """``failing_since`` after these attempts, in order, and the reason to disable, if any."""
    for item in seen:
        if item.status_code == 410:
            return failing_since, f"answered 410 Gone at {item.at.isoformat(timespec='seconds')}"
        if item.succeeded:
            failing_since = None
        elif failing_since is None:
            failing_since = item.at
    if failing_since is not None and _aware(seen[-1].at) - _aware(failing_since) >= DISABLE_AFTER:
        since = _aware(failing_since).isoformat(timespec="seconds")
        return failing_since, f"only failures since {since}"
    return failing_since, None


def _disable(session: Session, partner_id: int, reason: str) -> None:
    now = utcnow()
    session.execute(
        update(Partner)
        .where(Partner.id == partner_id, Partner.state == "active")
        .values(state="disabled", disabled_reason=reason, disabled_at=now, updated_at=now)
    )
