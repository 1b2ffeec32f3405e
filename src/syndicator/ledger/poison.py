"""Poison rows: a delivery that brings down whoever tries it is failed, not claimed forever.

Each worker process that dies (or batch that fails past the per-row guard) strikes the rows
it held with no outcome recorded (``deliveries.crashes``); an outcome or an operator's replay
clears the count. The ledger cannot tell the row that killed a batch from the rows it merely
held, so a struck row goes in ever smaller claims: the rows beside a poison row are
delivered, and cleared, in a claim without it well before its last strike, and a batch
killed once still goes on in large claims. At ``POISON_STRIKES`` the row is failed with
``POISON``: operators see it on the console's failures page and in the delivery log, and
may replay it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from syndicator.ledger.chunks import chunked, padded
from syndicator.store.models import Delivery, DeliveryAttempt

__all__ = [
    "POISON",
    "POISON_STRIKES",
    "SUSPECT_SPAN",
    "strike",
    "suspect_claim_size",
    "tolerated",
]

# Strikes in a row that make a row poison. Well above the kills a chaos scenario makes
# (three), and past the strike at which a suspect is claimed alone.
POISON_STRIKES = 8
POISON = "E_POISON_ROW"
# With k strikes, a row goes in claims of at most SUSPECT_SPAN / 4**k rows: 256, 64, 16,
# 4, then alone.
SUSPECT_SPAN = 1024

_ATTEMPTS = cast(Table, DeliveryAttempt.__table__)


def suspect_claim_size(crashes: int) -> int:
    """How many rows a claim may hold when one of them has ``crashes`` strikes."""
    return max(1, SUSPECT_SPAN >> (2 * crashes))


def tolerated(rows: int) -> ColumnElement[bool]:
    """The rows a claim of ``rows`` rows may take: those struck few enough times."""
    if rows <= 1:
        return true()
    most = 0
    while most < POISON_STRIKES and suspect_claim_size(most + 1) >= rows:
        most += 1
    return Delivery.crashes <= most


def strike(session: Session, rows: Sequence[Any], why: str, now: datetime) -> set[int]:
    """Rows (``id``, ``crashes``, ``attempts``, ``claimed_at``) held when their worker process
    or their batch ended: those at their last strike are failed as poison, with an attempt
    saying so, and their ids returned; the caller puts the others back with one more
    strike."""
    poisoned = [row for row in rows if row.crashes + 1 >= POISON_STRIKES]
    if not poisoned:
        return set()
    detail = (
        f"{why}, {POISON_STRIKES} times in a row: its delivery brings down whoever tries "
        "it; failed so that it is not tried forever (replay it once the cause is fixed)"
    )
    ids = [row.id for row in poisoned]
    for chunk in chunked(ids):
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(padded(chunk)), Delivery.status == "in_progress")
            .values(
                status="failed",
                claim_token=None,
                next_attempt_at=None,
                crashes=Delivery.crashes + 1,
                last_error=detail,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    session.execute(
        insert(_ATTEMPTS),
        [
            {
                "delivery_id": row.id,
                "number": row.attempts,
                "started_at": row.claimed_at or now,
                "duration_ms": max(0.0, (now - (row.claimed_at or now)).total_seconds() * 1000),
                "outcome": "failed",
                "error_class": POISON,
                "detail": detail,
            }
            for row in poisoned
        ],
    )
    return set(ids)
