"""Standard Webhooks ``v1a`` (Ed25519) verification written from the specification, on
``cryptography`` alone: independent of syndicator's signing code.

A receiver splits ``webhook-signature`` on spaces, keeps the ``v1a,`` entries and accepts
the message if any of them is an Ed25519 signature, by the ``whpk_`` public key, of
``{webhook-id}.{webhook-timestamp}.{body}``; it refuses a timestamp more than five
minutes off.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["BadSignature", "verify_v1a"]

TOLERANCE_SECONDS = 5 * 60


class BadSignature(Exception):
    pass


def verify_v1a(
    public_key: str, body: bytes, headers: Mapping[str, str], now: float | None = None
) -> None:
    """Raises :class:`BadSignature` unless one ``v1a`` entry verifies."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp = lowered["webhook-id"], lowered["webhook-timestamp"]
    if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE_SECONDS:
        raise BadSignature("timestamp outside the tolerance")
    assert public_key.startswith("whpk_")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[len("whpk_") :]))
    signed = f"{msg_id}.{stamp}.".encode() + body
    for entry in lowered["webhook-signature"].split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(encoded), signed)
        except InvalidSignature:
            continue
        return
    raise BadSignature("no v1a entry verifies with this key")
