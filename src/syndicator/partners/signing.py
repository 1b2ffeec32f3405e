"""Standard Webhooks signatures for partner deliveries (pure).

``webhook-id`` is derived from the ledger key, so every retry and replay of one delivery
carries the same id and a receiver can deduplicate on it. ``webhook-timestamp`` is the
time of each attempt (receivers refuse signatures older than five minutes), and
``webhook-signature`` holds one ``v1,`` entry per active key, so a partner rotating its
secret verifies with either. Signed with :mod:`hmac` here; tests verify with the
independent ``standardwebhooks`` package.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

from syndicator.ledger.targets import delivery_key

__all__ = ["SECRET_PREFIX", "signature", "signed_headers", "webhook_id"]

SECRET_PREFIX = "whsec_"


def webhook_id(event_id: str, channel: str, target: str) -> str:
    """Stable per delivery (event × partner), opaque: it names neither partner nor event."""
    digest = hashlib.sha256(delivery_key(event_id, channel, target).encode()).digest()
    return "msg_" + base64.b32encode(digest[:20]).decode().lower()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` entry over ``{id}.{timestamp}.{body}``."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
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
