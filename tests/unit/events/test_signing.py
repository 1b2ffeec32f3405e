"""Verification with several secrets, checked against independent Standard Webhooks signing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from syndicator.events.signing import SignatureError, generate_secret, verify

BODY = b'{"type": "release.published"}'
NEW, OLD, STRANGER = generate_secret(), generate_secret(), generate_secret()


def signed(secret: str, *, at: datetime | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(int(at.timestamp())),
        "Webhook-Signature": Webhook(secret).sign(msg_id, at, BODY.decode()),
    }


@pytest.mark.parametrize("secret", [NEW, OLD], ids=["new", "old"])  # ids: xdist needs stable names
def test_any_configured_secret_verifies(secret: str) -> None:
    assert verify((NEW, OLD), BODY, signed(secret, msg_id="msg_rotating")) == "msg_rotating"


def test_a_secret_not_configured_is_refused() -> None:
    with pytest.raises(SignatureError, match="No matching signature"):
        verify((NEW, OLD), BODY, signed(STRANGER))


def test_a_stale_timestamp_is_refused_whichever_secret_signed() -> None:
    stale = datetime.now(UTC) - timedelta(minutes=6)
    for secret in (NEW, OLD):
        with pytest.raises(SignatureError, match="too old"):
            verify((NEW, OLD), BODY, signed(secret, at=stale))


def test_no_secret_verifies_nothing() -> None:
    with pytest.raises(SignatureError, match="no secret configured"):
        verify((), BODY, signed(NEW))


def test_a_signature_among_a_few_others_is_found() -> None:
    headers = signed(OLD)
    headers["Webhook-Signature"] = " ".join([signed(STRANGER)["Webhook-Signature"]] * 15) + (
        " " + headers["Webhook-Signature"]
    )
    assert verify((NEW, OLD), BODY, headers) == "msg_1"


@pytest.mark.parametrize(
    "signature",
    [
        " ".join(["v1,AAAA"] * 17),  # too many entries, each short
        "v1," + "A" * 8190,  # one entry, too long
    ],
)
def test_oversized_signature_headers_are_refused_before_any_hmac(signature: str) -> None:
    # A valid signature at the end proves the refusal comes before it is looked at.
    headers = signed(NEW)
    headers["Webhook-Signature"] = f"{signature} {headers['Webhook-Signature']}"
    with pytest.raises(SignatureError, match="signature header too large"):
        verify((NEW,), BODY, headers)


def test_the_limits_themselves_are_allowed() -> None:
    headers = signed(NEW)
    valid = headers["Webhook-Signature"]
    headers["Webhook-Signature"] = " ".join(["v1,AAAA"] * 15 + [valid])
    assert verify((NEW,), BODY, headers) == "msg_1"
    # The library stops at the first entry it cannot decode, so the valid one goes first.
    headers["Webhook-Signature"] = valid + " v1," + "A" * (8192 - len(valid) - 4)
    assert len(headers["Webhook-Signature"]) == 8192
    assert verify((NEW,), BODY, headers) == "msg_1"
