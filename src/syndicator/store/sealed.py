"""Secrets at rest: values sealed with Fernet before they reach the database.

Partner signing secrets and credential headers are stored sealed, never as plain text,
so a database dump or a backup reveals no credential. Keys come from
``SYNDICATOR_ENCRYPTION_KEYS`` (newest first): the first seals, every one opens, so keys
rotate like the subscriber token keys (``cryptography``'s MultiFernet).

A sealed column (:class:`SealedText`) holds a :class:`Sealed` value, never a ``str``: it
refuses plain text on the way in and gives back only the opaque token on the way out,
so no code path can store or read a credential by accident. Opening needs a
:class:`Keyring`, at the few places that must (the registry's writes, the webhook
channel's partner snapshots).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Dialect

__all__ = [
    "ENCRYPTION_KEYS_HINT",
    "InvalidEncryptionKey",
    "Keyring",
    "Sealed",
    "SealedText",
    "UnreadableSecret",
    "generate_key",
    "keyring",
]

ENCRYPTION_KEYS_HINT = (
    "set SYNDICATOR_ENCRYPTION_KEYS (Fernet keys, space-separated, newest first; make one "
    "with `syndicator secret generate-encryption-key`), or let `syndicator run` generate "
    "one into <data_dir>/secrets/encryption_key"
)
# Opened values kept per process, by token: a worker reads every partner each second,
# and a token only changes when its row does.
_OPENED_CACHE = 4096


class InvalidEncryptionKey(ValueError):
    """A configured key is not a Fernet key: a configuration error, said plainly."""


class UnreadableSecret(ValueError):
    """A sealed value that no configured key opens (its key was dropped too soon)."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """A Fernet token as stored; ``str()`` never shows a secret, only ciphertext."""

    token: str

    def __repr__(self) -> str:
        return f"Sealed({self.token[:12]}…)"


def generate_key() -> str:
    """A new key for SYNDICATOR_ENCRYPTION_KEYS: 32 random bytes, URL-safe base64."""
    return Fernet.generate_key().decode()


def _fernet(key: str, position: int) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, binascii.Error):
        raise InvalidEncryptionKey(
            f"SYNDICATOR_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 random "
            "bytes in URL-safe base64); make one with `syndicator secret "
            "generate-encryption-key`"
        ) from None


class Keyring:
    """Seals with the newest key, opens with any configured one."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise InvalidEncryptionKey(f"no encryption key: {ENCRYPTION_KEYS_HINT}")
        fernets = [_fernet(key, n) for n, key in enumerate(keys, 1)]
        self._all = MultiFernet(fernets)
        self._newest = fernets[0]
        self._opened: dict[str, str] = {}

    def seal(self, plaintext: str) -> Sealed:
        return Sealed(self._all.encrypt(plaintext.encode()).decode())

    def open(self, sealed: Sealed) -> str:
        """The plain text, or :class:`UnreadableSecret` if no configured key opens it."""
        if (hit := self._opened.get(sealed.token)) is not None:
            return hit
        try:
            plaintext = self._all.decrypt(sealed.token.encode()).decode()
        except InvalidToken:
            raise UnreadableSecret(
                "sealed with a key that is not in SYNDICATOR_ENCRYPTION_KEYS; list the old "
                "key again (after the new one) and run `syndicator secret rotate-encryption`"
            ) from None
        if len(self._opened) >= _OPENED_CACHE:
            self._opened.clear()  # bounded; refilled by the next snapshot
        self._opened[sealed.token] = plaintext
        return plaintext

    def is_current(self, sealed: Sealed) -> bool:
        """Whether the newest key sealed it (nothing to re-encrypt)."""
        try:
            self._newest.decrypt(sealed.token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, sealed: Sealed) -> Sealed:
        """The same plain text sealed again under the newest key."""
        try:
            return Sealed(self._all.rotate(sealed.token.encode()).decode())
        except InvalidToken:
            raise UnreadableSecret(
                "sealed with a key that is not in SYNDICATOR_ENCRYPTION_KEYS"
            ) from None


@lru_cache(maxsize=8)
def keyring(keys: tuple[str, ...]) -> Keyring:
    """One keyring per configured key list, per process (so its cache is shared)."""
    return Keyring(keys)


class SealedText(TypeDecorator[Sealed]):
    """A column that stores only :class:`Sealed` values (Fernet tokens, ASCII)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            # Plain text never reaches the database, whatever the code path.
            raise TypeError(f"a sealed column takes Sealed values, not {type(value).__name__}")
        return value.token

    def process_result_value(self, value: Any, dialect: Dialect) -> Sealed | None:
        return None if value is None else Sealed(str(value))
