"""Signed, single-purpose subscriber tokens for the links in every mail.

A token carries the subscriber's id and one more number (never the address), signed with
HMAC by itsdangerous under a salt per purpose, so an unsubscribe token cannot confirm
anyone and a confirm token cannot change preferences. The number is, for a preferences
or unsubscribe token, the subscriber's ``links_version`` when it was made (bumped to
revoke every earlier link); for a confirm token, the subscribe request it confirms
(0: the subscriber as the row holds them, for an import). A number 0 is not written, so
such a token is the same as one made before the number existed.

Keys come from ``settings.token_keys``, newest first: the first signs and every listed key
verifies, so a rotated-out key keeps working while it stays listed. (itsdangerous wants the
opposite order, newest last; :func:`_serializer` reverses it.)

Confirm tokens expire after :data:`CONFIRM_MAX_AGE`. Unsubscribe and preferences tokens do
not: a newsletter read a year later must still let its reader leave (RFC 8058).
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from functools import lru_cache
from typing import Any, Literal

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode, int_to_bytes, want_bytes
from itsdangerous.url_safe import URLSafeSerializerMixin

from syndicator.config import Settings, TokenKeysMissing

__all__ = [
    "CONFIRM_MAX_AGE",
    "LINK_PATHS",
    "PURPOSES",
    "Purpose",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenKeysMissing",
    "confirm_token",
    "confirm_url",
    "make_token",
    "preferences_token",
    "preferences_url",
    "read_link",
    "read_token",
    "unsubscribe_token",
    "unsubscribe_url",
]

Purpose = Literal["confirm", "preferences", "unsubscribe"]
PURPOSES: tuple[Purpose, ...] = ("confirm", "preferences", "unsubscribe")
CONFIRM_MAX_AGE = timedelta(hours=72)
# None: the purpose's tokens never expire.
_MAX_AGE: dict[str, timedelta | None] = {
    "confirm": CONFIRM_MAX_AGE,
    "preferences": None,
    "unsubscribe": None,
}
# Where each purpose's link leads, under settings.base_url.
LINK_PATHS: dict[str, str] = {
    "confirm": "/subscriptions/confirm/",
    "preferences": "/preferences/",
    "unsubscribe": "/unsubscribe/",
}


class TokenError(Exception):
    """A token that cannot be used."""


class TokenInvalid(TokenError):
    """Tampered with, signed by an unknown key, or made for another purpose."""


class TokenExpired(TokenError):
    """Genuine, but older than its purpose allows."""


class _IdSerializer(URLSafeTimedSerializer):
    """itsdangerous tries zlib on every payload and keeps it only when shorter, which a
    subscriber id never is: skipping the try halves the cost of a token (two per mail).
    The tokens are the very same; reading still accepts a compressed payload."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


@lru_cache(maxsize=32)
def _cached_serializer(keys: tuple[str, ...], purpose: str) -> URLSafeTimedSerializer:
    # itsdangerous signs with the LAST key and verifies with all: newest last.
    return _IdSerializer(list(reversed(keys)), salt=f"syndicator.subscriptions.{purpose}")


class _Minter:
    """Makes the very tokens ``serializer.dumps`` makes, with the signing key derived and
    the HMAC keyed once rather than per token, and the timestamp encoded once a second:
    a newsletter makes two tokens per recipient."""

    def __init__(self, serializer: URLSafeTimedSerializer) -> None:
        signer = serializer.make_signer()
        assert isinstance(signer, TimestampSigner) and signer.key_derivation == "django-concat"
        self._serializer, self._signer = serializer, signer
        self._mac = hmac.new(signer.derive_key(), digestmod=signer.digest_method)
        self._sep = want_bytes(signer.sep)
        self._stamp: tuple[int, bytes] = (-1, b"")

    def __call__(self, payload: Any) -> str:
        now = self._signer.get_timestamp()
        if self._stamp[0] != now:
            self._stamp = (now, base64_encode(int_to_bytes(now)))
        value = want_bytes(self._serializer.dump_payload(payload)) + self._sep + self._stamp[1]
        mac = self._mac.copy()
        mac.update(value)
        return (value + self._sep + base64_encode(mac.digest())).decode("ascii")


@lru_cache(maxsize=32)
def _minter_for(serializer: URLSafeTimedSerializer) -> _Minter:
    return _Minter(serializer)


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in _MAX_AGE:
        raise ValueError(f"unknown token purpose {purpose!r}; one of {', '.join(PURPOSES)}")
    keys = tuple(key for key in settings.token_keys if key)
    if not keys:
        raise TokenKeysMissing()
    return _cached_serializer(keys, purpose)


def make_token(settings: Settings, purpose: Purpose, subscriber_id: int, number: int = 0) -> str:
    payload: int | list[int] = int(subscriber_id)
    if number:
        payload = [int(subscriber_id), int(number)]
    return _minter_for(_serializer(settings, purpose))(payload)


def read_token(
    settings: Settings, purpose: Purpose, token: str, max_age: timedelta | None = None
) -> int:
    """The subscriber id a genuine ``purpose`` token carries (see :func:`read_link`)."""
    return read_link(settings, purpose, token, max_age)[0]


def _ids(value: Any) -> tuple[int, int] | None:
    def positive(n: Any, least: int) -> bool:
        return isinstance(n, int) and not isinstance(n, bool) and n >= least

    if positive(value, 1):
        return value, 0
    if isinstance(value, list) and len(value) == 2 and positive(value[0], 1):
        return (value[0], value[1]) if positive(value[1], 1) else None
    return None


def read_link(
    settings: Settings, purpose: Purpose, token: str, max_age: timedelta | None = None
) -> tuple[int, int]:
    """(subscriber id, number) from a genuine ``purpose`` token.

    ``max_age`` defaults to the purpose's own (72 hours for confirm, none otherwise).
    Raises :class:`TokenExpired` or :class:`TokenInvalid`.
    """
    serializer = _serializer(settings, purpose)
    if not _canonical(token):
        raise TokenInvalid(f"not a valid {purpose} token")
    age = max_age if max_age is not None else _MAX_AGE[purpose]
    seconds = int(age.total_seconds()) if age is not None else None
    try:
        value = serializer.loads(token, max_age=seconds)
    except SignatureExpired as exc:
        raise TokenExpired(f"{purpose} token expired") from exc
    except BadData as exc:  # a bad signature, or a genuine-looking payload that is not ours
        raise TokenInvalid(f"not a valid {purpose} token") from exc
    # A genuine token holds a positive id (and a positive number); nothing else is ours.
    ids = _ids(value)
    if ids is None:
        raise TokenInvalid(f"not a valid {purpose} token")
    return ids


def _canonical(token: str) -> bool:
    """Each part exactly as we encode it. Base64's last character carries spare bits, so
    without this check a changed character could still decode to the signed bytes: the
    token would differ yet verify, and "any change is refused" would not hold."""
    # A leading "." marks a zlib-compressed payload (itsdangerous, when that is shorter).
    parts = token.removeprefix(".").split(".")
    if len(parts) != 3 or not token.isascii():
        return False
    try:
        return all(base64_encode(base64_decode(part)).decode() == part for part in parts)
    except BadData:
        return False


def _url(settings: Settings, purpose: Purpose, subscriber_id: int, number: int) -> str:
    token = make_token(settings, purpose, subscriber_id, number)
    return settings.base_url + LINK_PATHS[purpose] + token


def confirm_token(settings: Settings, subscriber_id: int, request_id: int = 0) -> str:
    return make_token(settings, "confirm", subscriber_id, request_id)


def preferences_token(settings: Settings, subscriber_id: int, version: int = 0) -> str:
    return make_token(settings, "preferences", subscriber_id, version)


def unsubscribe_token(settings: Settings, subscriber_id: int, version: int = 0) -> str:
    return make_token(settings, "unsubscribe", subscriber_id, version)


def confirm_url(settings: Settings, subscriber_id: int, request_id: int) -> str:
    """The link in the confirmation mail: a page with a button (GET never confirms)."""
    return _url(settings, "confirm", subscriber_id, request_id)


def preferences_url(settings: Settings, subscriber_id: int, version: int) -> str:
    return _url(settings, "preferences", subscriber_id, version)


def unsubscribe_url(settings: Settings, subscriber_id: int, version: int) -> str:
    """For List-Unsubscribe (RFC 8058 one-click POST) and the visible link (GET: a page)."""
    return _url(settings, "unsubscribe", subscriber_id, version)
