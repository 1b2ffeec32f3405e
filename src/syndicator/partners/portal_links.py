"""Signed, expiring links into a partner's self-service portal (``/portal/enter/<token>``).

A token carries the partner's id and nothing else, signed by itsdangerous with the
site's token keys (newest first signs, every listed key verifies) under a salt of its
own, so no subscriber link can open a portal and no portal link can touch a
subscription. It expires after ``settings.portal_link_hours``; the portal exchanges it
for a session cookie at once and drops it from the address bar.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from syndicator.config import Settings, TokenKeysMissing

__all__ = [
    "ENTER_PATH",
    "SALT",
    "PortalLinkExpired",
    "PortalLinkInvalid",
    "expires_at",
    "make_link_token",
    "portal_url",
    "read_link_token",
]

SALT = "syndicator.partners.portal"
ENTER_PATH = "/portal/enter/"


class PortalLinkInvalid(Exception):
    """Tampered with, signed by an unknown key, or not a portal link."""


class PortalLinkExpired(PortalLinkInvalid):
    """Genuine, but older than ``portal_link_hours``."""


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    keys = [key for key in settings.token_keys if key]
    if not keys:
        raise TokenKeysMissing()
    # itsdangerous signs with the LAST key: ours are newest first.
    return URLSafeTimedSerializer(list(reversed(keys)), salt=SALT)


def make_link_token(settings: Settings, partner_id: int) -> str:
    return _serializer(settings).dumps(["portal", int(partner_id)])


def read_link_token(settings: Settings, token: str) -> int:
    """The partner id the token was made for; raises when it is not a good one."""
    try:
        payload = _serializer(settings).loads(
            token, max_age=int(timedelta(hours=settings.portal_link_hours).total_seconds())
        )
    except SignatureExpired:
        raise PortalLinkExpired() from None
    except (BadData, UnicodeError, ValueError):
        raise PortalLinkInvalid() from None
    valid = (
        isinstance(payload, list)
        and len(payload) == 2
        and payload[0] == "portal"
        and type(payload[1]) is int
        and payload[1] > 0
    )
    if not valid:
        raise PortalLinkInvalid()
    return int(payload[1])


def portal_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}{ENTER_PATH}{token}"


def expires_at(settings: Settings, now: datetime | None = None) -> datetime:
    start = now or datetime.now(UTC)
    return start + timedelta(hours=settings.portal_link_hours)
