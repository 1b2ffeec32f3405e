"""Our signatures, verified by the independent ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from syndicator.events.signing import generate_secret
from syndicator.partners.signing import (
    generate_signing_key,
    public_key,
    signed_headers,
    webhook_id,
)
from tests.signatures import BadSignature, verify_v1a

SECRETS = [generate_secret() for _ in range(3)]


@given(st.dictionaries(st.text(), st.text() | st.integers()))
def test_every_body_verifies_with_the_reference_library(document: dict):
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    headers = signed_headers(SECRETS[:1], "msg_x", body)
    assert Webhook(SECRETS[0]).verify(body, headers) == document


def test_one_signature_per_active_key_each_verifies():
    body = '{"type":"release.published","제목":"대구"}'.encode()
    headers = signed_headers(SECRETS[:2], "msg_1", body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in SECRETS[:2]:
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRETS[2]).verify(body, headers)


def test_a_tampered_body_or_stale_timestamp_fails():
    body = b'{"a":1}'
    headers = signed_headers(SECRETS[:1], "msg_1", body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRETS[0]).verify(b'{"a":2}', headers)
    old = signed_headers(SECRETS[:1], "msg_1", body, now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRETS[0]).verify(body, old)


def test_webhook_id_is_stable_per_delivery_and_opaque():
    first = webhook_id("evt_1", "webhooks", "partner:7")
    assert first == webhook_id("evt_1", "webhooks", "partner:7")
    assert first != webhook_id("evt_1", "webhooks", "partner:8")
    assert first != webhook_id("evt_2", "webhooks", "partner:7")
    assert first.startswith("msg_") and "partner" not in first and "evt" not in first


def test_no_key_no_delivery():
    with pytest.raises(ValueError):
        signed_headers([], "msg_1", b"{}")


# --- Ed25519 (Standard Webhooks v1a), verified per the specification with cryptography ---

KEYS = [generate_signing_key() for _ in range(2)]


@settings(max_examples=50)
@given(
    body=st.binary(max_size=2000),
    msg_id=st.from_regex(r"msg_[a-z2-7]{1,40}", fullmatch=True),
    seconds=st.integers(min_value=0, max_value=2**33),
)
def test_every_v1a_signature_verifies_with_the_public_key_alone(
    body: bytes, msg_id: str, seconds: int
):
    when = datetime.fromtimestamp(seconds, UTC)
    headers = signed_headers(KEYS[:1], msg_id, body, now=when)
    assert headers["webhook-signature"].startswith("v1a,")
    verify_v1a(public_key(KEYS[0]), body, headers, now=seconds)
    with pytest.raises(BadSignature):
        verify_v1a(public_key(KEYS[1]), body, headers, now=seconds)
    with pytest.raises(BadSignature):
        verify_v1a(public_key(KEYS[0]), body + b" ", headers, now=seconds)


def test_keys_are_written_as_standard_webhooks_says():
    key = generate_signing_key()
    assert key.startswith("whsk_") and len(base64.b64decode(key[5:])) == 32
    assert public_key(key).startswith("whpk_")
    assert len(base64.b64decode(public_key(key)[5:])) == 32
    assert generate_signing_key() != key


def test_a_stale_v1a_timestamp_is_refused_by_the_verifier():
    body = b'{"a":1}'
    old = signed_headers(KEYS[:1], "msg_1", body, now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(BadSignature):
        verify_v1a(public_key(KEYS[0]), body, old)


def test_a_rotation_across_schemes_signs_with_both_keys():
    body = '{"type":"release.updated","제목":"대구"}'.encode()
    headers = signed_headers([KEYS[0], SECRETS[0]], "msg_2", body)
    entries = headers["webhook-signature"].split(" ")
    assert [e.split(",")[0] for e in entries] == ["v1a", "v1"]
    verify_v1a(public_key(KEYS[0]), body, headers)
    # The reference library checks the v1 entry and passes over the v1a one.
    Webhook(SECRETS[0]).verify(body, headers)


def test_two_ed25519_keys_during_a_grace_period_each_verify():
    body = b"{}"
    headers = signed_headers(KEYS, "msg_3", body)
    for key in KEYS:
        verify_v1a(public_key(key), body, headers)
