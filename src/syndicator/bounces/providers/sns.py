"""Amazon SNS messages: which fields are signed, where the signing certificate may live, and
whether a message's signature is the certificate's.

An SNS signature proves only that SNS sent the message, not that it came from *our* topic:
anyone can publish to a topic of their own and point it at this URL. So a verified message
is accepted only from a configured topic ARN (:func:`check_topic`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from syndicator.bounces.providers.common import Forbidden, Malformed, Unverified

__all__ = [
    "check_topic",
    "check_url",
    "envelope",
    "signing_string",
    "verify_signature",
]

# The fields each message type signs, in the order they are signed: both confirmations
# sign the same ones.
_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION,
    "UnsubscribeConfirmation": _CONFIRMATION,
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


def envelope(document: Any) -> Mapping[str, Any]:
    """The SNS message, its type and signature fields present and text."""
    if not isinstance(document, Mapping):
        raise Malformed("(body)", "must be an SNS message object")
    # Unsigned is a 401 whatever else is wrong with it.
    for name in ("Signature", "SignatureVersion", "SigningCertURL"):
        if not isinstance(document.get(name), str):
            raise Unverified(name, "missing")
    kind = document.get("Type")
    if kind not in _SIGNED:
        raise Malformed("Type", f"must be one of {', '.join(sorted(_SIGNED))}")
    for name in _SIGNED[kind]:
        if name == "Subject" and name not in document:
            continue
        if not isinstance(document.get(name), str):
            raise Malformed(name, "missing or not text")
    return document


def signing_string(message: Mapping[str, Any]) -> bytes:
    """``name\\nvalue\\n`` for each signed field present, in SNS's order."""
    lines = []
    for name in _SIGNED[message["Type"]]:
        if name in message:
            lines.append(f"{name}\n{message[name]}\n")
    return "".join(lines).encode("utf-8")


def check_url(url: str, hosts: str, name: str) -> str:
    """``url`` if it is https on a host matching ``hosts`` (a regular expression for the
    whole ``host[:port]``), with no credentials; else Unverified naming the field."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Unverified(name, "not a URL") from None
    if parts.scheme != "https":
        raise Unverified(name, "must be https")
    if "@" in parts.netloc or not re.fullmatch(hosts, parts.netloc, flags=re.ASCII):
        raise Unverified(name, f"host {parts.netloc!r} is not an SNS host")
    return url


def verify_signature(message: Mapping[str, Any], certificate_pem: bytes) -> None:
    """Unverified unless ``message``'s signature is the certificate's key's over its
    signing string (RSA, SHA1 for SignatureVersion 1, SHA256 for 2)."""
    algorithm = _HASHES.get(message["SignatureVersion"])
    if algorithm is None:
        raise Unverified("SignatureVersion", "must be 1 or 2")
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
    except (binascii.Error, ValueError):
        raise Unverified("Signature", "not base64") from None
    try:
        key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except ValueError:
        raise Unverified("SigningCertURL", "not a PEM certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise Unverified("SigningCertURL", "not an RSA certificate")
    try:
        key.verify(signature, signing_string(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise Unverified("Signature", "does not match the message") from None


def check_topic(message: Mapping[str, Any], topics: Sequence[str]) -> None:
    if message["TopicArn"] not in topics:
        raise Forbidden("TopicArn", "not a configured topic (SYNDICATOR_SES_TOPIC_ARNS)")
