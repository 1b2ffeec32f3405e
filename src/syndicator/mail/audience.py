"""Who receives a newsletter: subscriber queries, in pages, each in its own short session."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.sql.elements import ColumnElement

from syndicator.ledger.chunks import CHUNK, chunked, padded
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Subscriber, SubscriberTopic

__all__ = [
    "Recipient",
    "immediate_subscribers",
    "parse_target",
    "recipients_of_claim",
    "subscriber_target",
    "subscribers_in_mode",
]

TARGET_PREFIX = "subscriber:"


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str | None
    status: str
    mode: str
    links_version: int = 0  # in the mail's preferences and unsubscribe links
    language: str = "ko"  # of the newsletter's chrome (ko | en)


def subscriber_target(subscriber_id: int) -> str:
    return f"{TARGET_PREFIX}{subscriber_id}"


def parse_target(target: str) -> int | None:
    prefix, _, number = target.partition(":")
    if prefix + ":" != TARGET_PREFIX or not number.isdigit():
        return None
    return int(number)


def follows(department: str, categories: Sequence[str]) -> ColumnElement[bool]:
    """Subscribers who take every release, or follow its department or a category."""
    topic = SubscriberTopic
    matches = or_(
        and_(topic.kind == "department", topic.name == department),
        and_(topic.kind == "category", topic.name.in_(list(categories))),
    )
    return or_(
        Subscriber.every_release.is_(True),
        exists().where(topic.subscriber_id == Subscriber.id, matches),
    )


def _pages(db: Database, condition: ColumnElement[bool], page: int) -> Iterator[list[int]]:
    after = 0
    while True:
        with db.read_session() as session:
            ids = list(
                session.scalars(
                    select(Subscriber.id)
                    .where(condition, Subscriber.id > after)
                    .order_by(Subscriber.id)
                    .limit(page)
                )
            )
        if not ids:
            return
        yield ids
        after = ids[-1]


def immediate_subscribers(
    db: Database, department: str, categories: Sequence[str], page: int = CHUNK
) -> Iterator[int]:
    """Active immediate subscribers following a release, in id order, a page at a time:
    no session is open while the caller holds a page."""
    condition = and_(
        Subscriber.status == "active",
        Subscriber.mode == "immediate",
        follows(department, categories),
    )
    for ids in _pages(db, condition, page):
        yield from ids


def subscribers_in_mode(db: Database, mode: str, page: int = CHUNK) -> Iterator[list[int]]:
    condition = and_(Subscriber.status == "active", Subscriber.mode == mode)
    yield from _pages(db, condition, page)


def recipients_of_claim(db: Database, token: str) -> dict[int, Recipient]:
    """Everyone a claimed batch mails, looked up in two queries when the batch starts."""
    with db.read_session() as session:
        targets = session.scalars(select(Delivery.target).where(Delivery.claim_token == token))
        ids = [n for n in map(parse_target, targets) if n is not None]
        found: dict[int, Recipient] = {}
        for chunk in chunked(ids):
            rows = session.execute(
                select(
                    Subscriber.id,
                    Subscriber.email,
                    Subscriber.status,
                    Subscriber.mode,
                    Subscriber.links_version,
                    Subscriber.language,
                ).where(Subscriber.id.in_(padded(chunk)))
            )
            found.update((row.id, Recipient(*row)) for row in rows)
    return found
