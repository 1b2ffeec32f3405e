"""Standard Webhooks signatures for partner deliveries (pure).

``webhook-id`` is derived from the ledger key, so every retry and replay of one delivery
carries the same id and a receiver can deduplicate on it. ``webhook-timestamp`` is the
time of each attempt (receivers refuse signatures older than five minutes), and
``webhook-signature`` holds one entry per active key, so a partner rotating its
secret verifies with either: ``v1,`` (HMAC-SHA256) for a shared ``whsec_`` secret, ``v1a,``
(Ed25519) for a ``whsk_`` private key, whose public half (``whpk_``) is all the partner
holds. The key's prefix says which, so old and new keys of either scheme sign side by
side while a partner moves between schemes. Tests verify with the independent
``standardwebhooks`` and ``cryptography`` packages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from syndicator.ledger.targets import delivery_key

__all__ = [
    "PRIVATE_KEY_PREFIX",
    "PUBLIC_KEY_PREFIX",
    "SECRET_PREFIX",
    "generate_signing_key",
    "public_key",
    "signature",
    "signed_headers",
    "webhook_id",
]

SECRET_PREFIX = "whsec_"
PRIVATE_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"


def webhook_id(event_id: str, channel: str, target: str) -> str:
    """Stable per delivery (event × partner), opaque: it names neither partner nor event."""
    digest = hashlib.sha256(delivery_key(event_id, channel, target).encode()).digest()
    return "msg_" + base64.b32encode(digest[:20]).decode().lower()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


@lru_cache(maxsize=4096)
def _private_key(secret: str) -> Ed25519PrivateKey:
    """The key object for a ``whsk_`` seed, made once per process (keys repeat)."""
    seed = base64.b64decode(secret.removeprefix(PRIVATE_KEY_PREFIX), validate=True)
    return Ed25519PrivateKey.from_private_bytes(seed)


def generate_signing_key() -> str:
    """A new Ed25519 private key: ``whsk_`` + base64 of its 32-byte seed."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return PRIVATE_KEY_PREFIX + base64.b64encode(seed).decode()


def public_key(secret: str) -> str:
    """``whpk_`` + base64 of the raw 32-byte public key of a ``whsk_`` private key."""
    raw = _private_key(secret).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One entry over ``{id}.{timestamp}.{body}``: ``v1a,<base64 Ed25519>`` for a
    ``whsk_`` key, ``v1,<base64 HMAC-SHA256>`` for a ``whsec_`` secret."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    if secret.startswith(PRIVATE_KEY_PREFIX):
        return "v1a," + base64.b64encode(_private_key(secret).sign(signed)).decode()
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secrets: Sequence[str], msg_id: str, body: bytes, now: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret, in the order given."""
    if not secrets:
        raise ValueError("a partner delivery needs at least one active signing key")
    timestamp = int((now or datetime.now(UTC)).timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
    }
