"""Standard Webhooks signing, through the `standardwebhooks` reference library."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from secrets import token_bytes

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = [
    "MAX_SIGNATURES",
    "MAX_SIGNATURE_CHARS",
    "SignatureError",
    "generate_secret",
    "sign_headers",
    "verify",
]

# A CMS sends one signature, or a few while it rotates keys; anything larger is refused.
MAX_SIGNATURE_CHARS = 8192
MAX_SIGNATURES = 16


class SignatureError(Exception):
    """Missing, malformed, wrong or expired signature."""


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(token_bytes(32)).decode()


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


def verify(secrets: Sequence[str], body: bytes, headers: Mapping[str, str]) -> str:
    """Check the signature against each secret and its 5-minute window; return the webhook-id.

    Any one secret will do, so the CMS can rotate: it signs with the new secret while
    we still accept the old one."""
    lowered = {k.lower(): v for k, v in headers.items()}
    _refuse_oversized(lowered.get("webhook-signature", ""))
    errors: list[Exception] = []
    for secret in secrets:
        try:
            Webhook(secret).verify(body, lowered, json_parse=False)
        except UnicodeDecodeError:
            raise  # a ValueError too, but it means a malformed body (400), not a bad signature
        except (WebhookVerificationError, ValueError) as exc:
            # The library raises ValueError for malformed signature entries.
            errors.append(exc)
        else:
            return lowered["webhook-id"]
    if not errors:
        raise SignatureError("no secret configured")
    # Only "no matching signature" depends on the secret; missing headers or a timestamp
    # outside the window fail alike for every one, so the first error tells the story.
    raise SignatureError(str(errors[0]) or "invalid signature") from errors[0]


def _refuse_oversized(signature: str) -> None:
    # Each entry costs a base64 decode and a compare per secret: bound the work per request.
    if len(signature) > MAX_SIGNATURE_CHARS or signature.count(" ") + 1 > MAX_SIGNATURES:
        raise SignatureError("signature header too large")
