"""SendGrid: the ECDSA signed event webhook, and its batches of events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.providers.common import Malformed, Unverified
from syndicator.bounces.providers.sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    feedback_of,
    public_key,
    verify,
)
from tests.unit.bounces.providers.samples import SENDGRID_EVENTS, SENDGRID_VECTOR
from tests.unit.bounces.providers.signing import sendgrid_keys, sign_sendgrid
from tests.unit.bounces.providers.strategies import json_values, mutations

PRIVATE, PUBLIC = sendgrid_keys()
BODY = json.dumps(SENDGRID_EVENTS).encode() + b"\r\n"


def test_sendgrids_own_published_vector_verifies() -> None:
    key = public_key(SENDGRID_VECTOR["public_key"])  # type: ignore[arg-type]
    verify(key, SENDGRID_VECTOR["signature"], SENDGRID_VECTOR["timestamp"], SENDGRID_VECTOR["body"])  # type: ignore[arg-type]
    with pytest.raises(Unverified):
        verify(key, SENDGRID_VECTOR["signature"], "1588788368", SENDGRID_VECTOR["body"])  # type: ignore[arg-type]


def test_the_documented_batch_signed_with_a_test_key_verifies() -> None:
    verify(public_key(PUBLIC), sign_sendgrid(PRIVATE, "1765000000", BODY), "1765000000", BODY)


def test_a_pem_key_is_taken_too() -> None:
    pem = "-----BEGIN PUBLIC KEY-----\n" + PUBLIC + "\n-----END PUBLIC KEY-----\n"
    verify(public_key(pem), sign_sendgrid(PRIVATE, "1", BODY), "1", BODY)


def test_another_keys_signature_is_unverified() -> None:
    other, _ = sendgrid_keys()
    with pytest.raises(Unverified) as refused:
        verify(public_key(PUBLIC), sign_sendgrid(other, "1", BODY), "1", BODY)
    assert refused.value.field == SIGNATURE_HEADER


@pytest.mark.parametrize(
    ("signature", "timestamp", "field"),
    [
        (None, "1", SIGNATURE_HEADER),
        ("sig", None, TIMESTAMP_HEADER),
        ("%%%", "1", SIGNATURE_HEADER),
    ],
)
def test_missing_headers_are_unverified(
    signature: str | None, timestamp: str | None, field: str
) -> None:
    with pytest.raises(Unverified) as refused:
        verify(public_key(PUBLIC), signature, timestamp, BODY)
    assert refused.value.field == field


def test_a_key_that_is_not_ecdsa_is_refused_when_read() -> None:
    with pytest.raises(ValueError):
        public_key("bm90IGEga2V5")


def test_the_documented_events_map_by_kind() -> None:
    found = feedback_of(SENDGRID_EVENTS)
    kinds = [f.kind if isinstance(f, Feedback) else None for f in found]
    assert kinds == [None, "hard_bounce", None, None, "complaint"]
    bounce = found[1]
    assert isinstance(bounce, Feedback)
    assert (bounce.status, bounce.diagnostic, bounce.answered_message_id, bounce.dedupe_key) == (
        "5.0.0",
        "500 unknown recipient",
        "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "sendgrid:6g4ZI7SA-xmRDv57GoPIPw==",
    )
    assert all(isinstance(found[i], Ignored) for i in (0, 2, 3))


def test_a_malformed_event_is_named_by_its_place_in_the_batch() -> None:
    events = [SENDGRID_EVENTS[0], {k: v for k, v in SENDGRID_EVENTS[1].items() if k != "email"}]
    with pytest.raises(Malformed) as refused:
        feedback_of(events)
    assert refused.value.field == "1.email"


@settings(max_examples=100, deadline=None)
@given(index=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_breaks_the_signature(index: int, flip: int) -> None:
    signature = sign_sendgrid(PRIVATE, "1765000000", BODY)
    changed = bytearray(BODY)
    changed[index % len(changed)] ^= flip
    with pytest.raises(Unverified):
        verify(public_key(PUBLIC), signature, "1765000000", bytes(changed))


@settings(max_examples=150, deadline=None)
@given(st.one_of(mutations(SENDGRID_EVENTS), json_values))
def test_any_batch_maps_or_is_refused_naming_a_field(events: Any) -> None:
    try:
        found = feedback_of(events)
    except Malformed as refused:
        assert refused.field
        return
    assert len(found) == len(events)
