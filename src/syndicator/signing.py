"""Standard Webhooks signing, through the `standardwebhooks` reference library."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["SignatureError", "generate_secret", "sign_headers", "verify"]


class SignatureError(Exception):
    """Missing, malformed, wrong or expired signature."""


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign_headers(
    secret: str, body: bytes, *, msg_id: str | None = None, now: datetime | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = (now or datetime.now(UTC)).astimezone(UTC)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def verify(secret: str, body: bytes, headers: dict[str, str]) -> str:
    """Check the signature and its 5-minute window; return the webhook-id."""
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except UnicodeDecodeError:
        raise  # a ValueError too, but it means a malformed body (400), not a bad signature
    except (WebhookVerificationError, ValueError) as exc:
        # The library raises ValueError for malformed signature entries.
        raise SignatureError(str(exc) or "invalid signature") from exc
    return {k.lower(): v for k, v in headers.items()}["webhook-id"]
