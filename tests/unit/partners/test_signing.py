"""Our signatures, verified by the independent ``standardwebhooks`` package."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from syndicator.events.signing import generate_secret
from syndicator.partners.signing import signed_headers, webhook_id

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
