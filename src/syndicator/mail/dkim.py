"""DKIM signatures (dkimpy), when a key, a selector and a domain are all configured."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import dkim

from syndicator.config import Settings

__all__ = ["SIGNED_HEADERS", "dkim_enabled", "sign_message"]

# What a receiver must see unchanged; List-Unsubscribe(-Post) signed as RFC 8058 asks.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


def dkim_enabled(settings: Settings) -> bool:
    return bool(settings.dkim_key_path and settings.dkim_selector and settings.dkim_domain)


@lru_cache(maxsize=4)
def _key(path: Path) -> bytes:
    return path.read_bytes()


def sign_message(settings: Settings, message: bytes) -> bytes:
    """``message`` with a DKIM-Signature header first, or unchanged when DKIM is off."""
    if not dkim_enabled(settings):
        return message
    assert settings.dkim_key_path and settings.dkim_selector and settings.dkim_domain
    signature = dkim.sign(
        message,
        settings.dkim_selector.encode(),
        settings.dkim_domain.encode(),
        _key(settings.dkim_key_path),
        include_headers=list(SIGNED_HEADERS),
        linesep=b"\r\n",
    )
    return signature + message
