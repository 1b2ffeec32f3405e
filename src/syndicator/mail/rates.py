"""Bounce and complaint rates, per newsletter and over the newsletters of the last 7 days.

A newsletter is one email event (a release's, or a digest run's). Its messages sent are
counted in ``newsletter_sends`` by the transaction that records them (:func:`count_sends`);
its bounces and complaints are the ``mail_feedback`` rows whose delivery belongs to it,
each message counted once per kind however many reports it drew. So a complaint that
arrives on day 9 about a mail of day 6 counts against that mail's newsletter, and the
7-day window is the newsletters last sent in the past 7 days.

Every query here is an index range: the window's newsletters (a few dozen rows of
``newsletter_sends``) and the feedback received since the oldest of them was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syndicator.store.models import Delivery, MailFeedback, NewsletterSend, utcnow

__all__ = [
    "FEEDBACK_KINDS",
    "WINDOW",
    "NewsletterRates",
    "WindowRates",
    "count_sends",
    "newsletter_rates",
    "window_rates",
]

FEEDBACK_KINDS = ("hard_bounce", "soft_bounce", "complaint")
WINDOW = timedelta(days=7)
# Hosts' clocks differ a little: feedback is read from this long before the first send.
_CLOCK_MARGIN = timedelta(hours=1)
# Outcomes of a message the mail server took, or refused for the mailbox (a bounce in the
# session is a bounce of a sent message too). Deferrals, retries and rows not mailed
# (unsubscribed meanwhile) are not messages sent.
_SENT_OUTCOMES = ("succeeded", "uncertain")
_SENT_ERRORS = ("E_SMTP_MAILBOX_GONE",)

_TABLE: Table = NewsletterSend.__table__  # type: ignore[assignment]


def count_sends(session: Session, attempts: Iterable[tuple[str, str, str | None]]) -> None:
    """Add the messages sent among ``attempts`` ((event id, outcome, error class) each) to
    their newsletters, in the recording transaction: the ledger records each attempt once."""
    per_event: dict[str, int] = {}
    for event_id, outcome, error_class in attempts:
        if outcome in _SENT_OUTCOMES or error_class in _SENT_ERRORS:
            per_event[event_id] = per_event.get(event_id, 0) + 1
    if not per_event:
        return
    now = utcnow()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for event_id in sorted(per_event):  # one lock order for concurrent recorders
        statement = insert(_TABLE).values(
            event_id=event_id, sent=per_event[event_id], first_sent_at=now, last_sent_at=now
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["event_id"],
                set_={"sent": _TABLE.c.sent + statement.excluded.sent, "last_sent_at": now},
            )
        )


@dataclass
class NewsletterRates:
    event_id: str
    sent: int
    first_sent_at: datetime | None = None
    last_sent_at: datetime | None = None
    # Messages that drew at least one report of each kind.
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEEDBACK_KINDS, 0))

    def rate(self, kind: str) -> float:
        """The share of messages sent that drew a report of ``kind`` (0 when none sent)."""
        return self.counts.get(kind, 0) / self.sent if self.sent else 0.0


@dataclass
class WindowRates:
    """The newsletters last sent within the window, newest first, and their sums."""

    since: datetime
    newsletters: list[NewsletterRates]
    sent: int
    counts: dict[str, int]

    def rate(self, kind: str) -> float:
        return self.counts.get(kind, 0) / self.sent if self.sent else 0.0

    @property
    def latest(self) -> NewsletterRates | None:
        return self.newsletters[0] if self.newsletters else None


def _feedback_counts(
    session: Session, event_ids: Sequence[str], since: datetime | None
) -> dict[tuple[str, str], int]:
    if not event_ids:
        return {}
    query = (
        select(
            Delivery.event_id,
            MailFeedback.kind,
            func.count(func.distinct(MailFeedback.delivery_id)),
        )
        .join(Delivery, Delivery.id == MailFeedback.delivery_id)
        .where(Delivery.event_id.in_(list(event_ids)), MailFeedback.kind.in_(FEEDBACK_KINDS))
        .group_by(Delivery.event_id, MailFeedback.kind)
    )
    if since is not None:
        # Leads the planner to ix_mail_feedback_kind's range instead of the events' rows.
        query = query.where(MailFeedback.received_at >= since - _CLOCK_MARGIN)
    return {(event_id, kind): int(n) for event_id, kind, n in session.execute(query)}


def _fill(
    session: Session, sends: Sequence[NewsletterSend], event_ids: Sequence[str]
) -> list[NewsletterRates]:
    found = {s.event_id: s for s in sends}
    oldest = min((s.first_sent_at for s in sends), default=None)
    counts = _feedback_counts(session, event_ids, oldest)
    rates = []
    for event_id in event_ids:
        send = found.get(event_id)
        one = NewsletterRates(
            event_id,
            send.sent if send else 0,
            send.first_sent_at if send else None,
            send.last_sent_at if send else None,
        )
        for kind in FEEDBACK_KINDS:
            one.counts[kind] = counts.get((event_id, kind), 0)
        rates.append(one)
    return rates


def newsletter_rates(session: Session, event_ids: Sequence[str]) -> list[NewsletterRates]:
    """The rates of these events' newsletters, in the order given (sent 0: none went out)."""
    sends = list(
        session.scalars(select(NewsletterSend).where(NewsletterSend.event_id.in_(list(event_ids))))
    )
    return _fill(session, sends, list(event_ids))


def window_rates(
    session: Session, now: datetime | None = None, window: timedelta = WINDOW
) -> WindowRates:
    """The newsletters last sent in the ``window`` before ``now``, and their totals."""
    since = (now or utcnow()) - window
    sends = list(
        session.scalars(
            select(NewsletterSend)
            .where(NewsletterSend.last_sent_at >= since)
            .order_by(NewsletterSend.first_sent_at.desc(), NewsletterSend.event_id)
        )
    )
    newsletters = _fill(session, sends, [s.event_id for s in sends])
    totals = dict.fromkeys(FEEDBACK_KINDS, 0)
    for one in newsletters:
        for kind in FEEDBACK_KINDS:
            totals[kind] += one.counts[kind]
    return WindowRates(since, newsletters, sum(n.sent for n in newsletters), totals)
