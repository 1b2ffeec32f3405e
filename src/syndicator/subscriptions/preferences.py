"""What a subscriber receives: a mode and the topics (departments, categories) they follow."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from syndicator.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_or_none
from syndicator.store.models import Subscriber, SubscriberTopic
from syndicator.store.taxonomy import KnownTopics

__all__ = [
    "MAX_TOPICS",
    "MODES",
    "InvalidPreference",
    "Mode",
    "Preferences",
    "clean_language",
    "clean_mode",
    "clean_topics",
    "load_preferences",
    "save_topics",
    "topics_by_subscriber",
    "unknown_topics",
]

Mode = Literal["immediate", "daily", "weekly"]
MODES: tuple[Mode, ...] = get_args(Mode)
MAX_TOPICS = 100
MAX_TOPIC_CHARS = 200  # the column's size


class InvalidPreference(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Preferences:
    mode: Mode = "immediate"
    categories: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    @property
    def every_release(self) -> bool:
        """No topics at all means every release."""
        return not (self.categories or self.departments)


def clean_mode(value: object) -> Mode:
    if value is None or value == "":
        return "immediate"
    if value not in MODES:
        raise InvalidPreference("mode", f"must be one of {', '.join(MODES)}")
    return value


def clean_language(value: object, default: str = DEFAULT_LANGUAGE) -> str:
    """The language of a subscriber's mails: ``ko`` or ``en``; absent is ``default``."""
    if value is None or value == "":
        return default
    chosen = language_or_none(value)
    if chosen is None:
        raise InvalidPreference("language", f"must be one of {', '.join(LANGUAGES)}")
    return chosen


def clean_topics(field: str, values: Iterable[object] | None) -> tuple[str, ...]:
    """Names as the CMS spells them (NFC, trimmed), each once, in the order given."""
    names: dict[str, None] = {}
    for value in values or ():
        if not isinstance(value, str):
            raise InvalidPreference(field, "each entry must be a string")
        name = unicodedata.normalize("NFC", value).strip()
        if not name:
            continue
        if len(name) > MAX_TOPIC_CHARS or not name.isprintable():
            raise InvalidPreference(
                field, f"each entry must be printable and at most {MAX_TOPIC_CHARS} characters"
            )
        names[name] = None
    if len(names) > MAX_TOPICS:
        raise InvalidPreference(field, f"at most {MAX_TOPICS} entries")
    return tuple(names)


def unknown_topics(prefs: Preferences, known: KnownTopics) -> list[InvalidPreference]:
    """One error per field naming topics no release has used: a subscription to a
    misspelt department would silently never receive anything."""
    errors = []
    for field, names, allowed, what in (
        ("categories", prefs.categories, known.categories, "category"),
        ("departments", prefs.departments, known.departments, "department"),
    ):
        unknown = [name for name in names if name not in allowed]
        if unknown:
            errors.append(InvalidPreference(field, f"no such {what}: {', '.join(unknown)}"))
    return errors


def save_topics(session: Session, subscriber: Subscriber, prefs: Preferences) -> None:
    """Replace the subscriber's mode and topics with ``prefs``."""
    subscriber.mode = prefs.mode
    subscriber.every_release = prefs.every_release
    session.flush()
    session.execute(delete(SubscriberTopic).where(SubscriberTopic.subscriber_id == subscriber.id))
    rows = [
        {"subscriber_id": subscriber.id, "kind": kind, "name": name}
        for kind, names in (("category", prefs.categories), ("department", prefs.departments))
        for name in names
    ]
    if rows:
        session.execute(insert(SubscriberTopic), rows)


def topics_by_subscriber(
    session: Session, subscriber_ids: Iterable[int]
) -> dict[int, dict[str, list[str]]]:
    """``{id: {"category": [...], "department": [...]}}`` for one page of subscribers."""
    ids = list(subscriber_ids)
    found: dict[int, dict[str, list[str]]] = {i: {"category": [], "department": []} for i in ids}
    if not ids:
        return found
    rows = session.execute(
        select(SubscriberTopic.subscriber_id, SubscriberTopic.kind, SubscriberTopic.name)
        .where(SubscriberTopic.subscriber_id.in_(ids))
        .order_by(SubscriberTopic.subscriber_id, SubscriberTopic.kind, SubscriberTopic.name)
    )
    for subscriber_id, kind, name in rows:
        found[subscriber_id].setdefault(kind, []).append(name)
    return found


def load_preferences(session: Session, subscriber: Subscriber) -> Preferences:
    topics = topics_by_subscriber(session, [subscriber.id])[subscriber.id]
    return Preferences(
        mode=clean_mode(subscriber.mode),
        categories=tuple(topics["category"]),
        departments=tuple(topics["department"]),
    )
