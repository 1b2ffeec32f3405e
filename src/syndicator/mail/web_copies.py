"""The web copy of each newsletter and digest, linked from the message as "웹에서 보기".

A copy holds what every recipient's message shares and nothing of any one of them: the
releases as the CMS sent them (public), a correction flag, a digest's mode and period. No
address, no token, no unsubscribe link, so a resident may forward the URL.

Its id is an HMAC, under the token key, of the content's key: a release newsletter's
event id, or a digest run's event id with the outbox numbers of its items. So:

- the URL is stable: every worker derives the same id for the same content, and the row
  is stored once (a second store finds it);
- subscribers whose digests hold the same items share one copy, and it is the same URL
  whoever received it;
- nobody can walk the ids (``/newsletters/1``, ``/2``…), nor test a guess: without the key,
  a topic set's items do not lead to an id. A digest's items follow from its reader's
  departments and categories, so an id computable from them would let anyone check
  whether someone follows a given set. What a copy shows, its holder chose to share.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import urlsafe_b64encode
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.models import NewsletterCopy

__all__ = ["COPY_PATH", "WebCopy", "copy_id", "digest_copy", "release_copy", "store_copy"]

COPY_PATH = "/newsletters/"
# 120 bits of HMAC: 20 URL-safe characters, far beyond guessing.
_ID_BYTES = 15


class WebCopy:
    """A copy to store: its key (never shown) and its public content."""

    def __init__(self, kind: str, event_id: str, key: str, content: dict[str, Any]) -> None:
        self.kind, self.event_id, self.key, self.content = kind, event_id, key, content


def copy_id(settings: Settings, key: str) -> str:
    if not settings.token_keys:
        raise ValueError("web copies need SYNDICATOR_TOKEN_KEYS, as the mails' links do")
    secret = ("newsletter-copy:" + settings.token_keys[0]).encode()
    digest = hmac.new(secret, key.encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(digest[:_ID_BYTES]).decode("ascii")


# What a copy shows of a release (as the message does): not its body, which the board's
# page has, so a copy stays small.
_SHOWN = (
    "id",
    "title",
    "subtitle",
    "summary",
    "department",
    "categories",
    "url",
    "published_at",
    "attachments",
)


def _shown(release: Mapping[str, Any]) -> dict[str, Any]:
    return {key: release[key] for key in _SHOWN if key in release}


def release_copy(event_id: str, event_type: str, release: Mapping[str, Any]) -> WebCopy:
    content = {"correction": event_type == "release.updated", "releases": [_shown(release)]}
    return WebCopy("release", event_id, f"release:{event_id}", content)


def digest_copy(
    event_id: str,
    mode: str,
    period: str,
    sequences: Sequence[int],
    releases: Sequence[Mapping[str, Any]],
) -> WebCopy:
    key = f"digest:{event_id}:{','.join(map(str, sequences))}"
    content = {"mode": mode, "period": period, "releases": [_shown(r) for r in releases]}
    return WebCopy("digest", event_id, key, content)


def store_copy(settings: Settings, db: Database, copy: WebCopy) -> str:
    """Store the copy once and return its URL; storing it again changes nothing."""
    found = copy_id(settings, copy.key)
    try:
        with db.session() as session:
            if session.get(NewsletterCopy, found) is None:
                session.add(
                    NewsletterCopy(
                        id=found, kind=copy.kind, event_id=copy.event_id, content=copy.content
                    )
                )
    except IntegrityError:  # another worker stored it this instant: the same content
        pass
    return f"{settings.base_url}{COPY_PATH}{found}"
