"""Mailgun: HMAC of timestamp and token, fresh; permanent failures and complaints."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.providers.common import Malformed, Unverified
from syndicator.bounces.providers.mailgun import TOLERANCE_SECONDS, feedback_of, verify
from tests.unit.bounces.providers.samples import (
    MAILGUN_COMPLAINED,
    MAILGUN_PERMANENT_FAILURE,
    SETTINGS,
)
from tests.unit.bounces.providers.signing import sign_mailgun
from tests.unit.bounces.providers.strategies import json_values, mutations

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
NOW = 1_765_000_000


def test_the_documented_failure_signed_with_the_key_verifies_and_maps() -> None:
    signed = verify(sign_mailgun(MAILGUN_PERMANENT_FAILURE, KEY, NOW), ["old-key", KEY], NOW + 5)
    [feedback] = feedback_of(signed.event, signed.token, SETTINGS)
    assert feedback == Feedback(
        kind="hard_bounce",
        source="mailgun",
        recipient="alice@example.com",
        verp_tag=None,
        status="605",
        diagnostic="Not delivering to previously bounced address",
        answered_message_id="<20130503192659.13651.20287@sandbox5f0e7f3b.mailgun.org>",
        evidence=feedback.evidence,
        dedupe_key="mailgun:G9Bn5sl1TC6nu79C8C0bwg",
    )


def test_the_documented_complaint() -> None:
    signed = verify(sign_mailgun(MAILGUN_COMPLAINED, KEY, NOW), [KEY], NOW)
    [feedback] = feedback_of(signed.event, signed.token, SETTINGS)
    assert isinstance(feedback, Feedback) and feedback.kind == "complaint"


def test_a_wrong_key_is_unverified() -> None:
    with pytest.raises(Unverified) as refused:
        verify(sign_mailgun(MAILGUN_PERMANENT_FAILURE, "another-key", NOW), [KEY], NOW)
    assert refused.value.field == "signature.signature"


@pytest.mark.parametrize("skew", [TOLERANCE_SECONDS + 1, -TOLERANCE_SECONDS - 1, 86400])
def test_a_stale_or_future_timestamp_is_unverified(skew: int) -> None:
    with pytest.raises(Unverified) as refused:
        verify(sign_mailgun(MAILGUN_PERMANENT_FAILURE, KEY, NOW), [KEY], NOW + skew)
    assert refused.value.field == "signature.timestamp"


def test_an_unsigned_payload_is_unverified() -> None:
    with pytest.raises(Unverified):
        verify(MAILGUN_PERMANENT_FAILURE, [KEY], NOW)


def test_temporary_failures_wait_for_mailguns_last_word() -> None:
    event = {**MAILGUN_PERMANENT_FAILURE["event-data"], "severity": "temporary"}
    [item] = feedback_of(event, "t", SETTINGS)
    assert isinstance(item, Ignored)
    given_up = {**MAILGUN_PERMANENT_FAILURE["event-data"], "reason": "old"}
    [soft] = feedback_of(given_up, "t", SETTINGS)
    assert isinstance(soft, Feedback) and soft.kind == "soft_bounce"


def test_an_enhanced_code_in_the_smtp_answer_is_the_status() -> None:
    event = copy.deepcopy(MAILGUN_PERMANENT_FAILURE["event-data"])
    event["delivery-status"].update(code=550, message="5.1.1 The email account does not exist")
    [feedback] = feedback_of(event, "t", SETTINGS)
    assert isinstance(feedback, Feedback) and feedback.status == "5.1.1"


def test_a_failure_without_an_event_id_is_keyed_by_its_token() -> None:
    event = {k: v for k, v in MAILGUN_PERMANENT_FAILURE["event-data"].items() if k != "id"}
    [feedback] = feedback_of(event, "tok-1", SETTINGS)
    assert isinstance(feedback, Feedback) and feedback.dedupe_key == "mailgun:tok-1"


@settings(max_examples=100, deadline=None)
@given(
    part=st.sampled_from(["timestamp", "token", "signature"]),
    value=st.text(min_size=1, max_size=40),
)
def test_any_change_to_the_signature_block_is_unverified(part: str, value: str) -> None:
    payload = sign_mailgun(MAILGUN_PERMANENT_FAILURE, KEY, NOW)
    if payload["signature"][part] == value:
        return
    payload["signature"] = {**payload["signature"], part: value}
    with pytest.raises(Unverified):
        verify(payload, [KEY], NOW)


@settings(max_examples=150, deadline=None)
@given(st.one_of(mutations(MAILGUN_PERMANENT_FAILURE), mutations(MAILGUN_COMPLAINED), json_values))
def test_any_signed_payload_maps_or_is_refused_naming_a_field(payload: Any) -> None:
    signed_payload = sign_mailgun(payload, KEY, NOW) if isinstance(payload, dict) else payload
    try:
        signed = verify(signed_payload, [KEY], NOW)
        found = feedback_of(signed.event, signed.token, SETTINGS)
    except Malformed as refused:
        assert refused.field
        return
    for item in found:
        if isinstance(item, Feedback):
            assert "@" in (item.recipient or "") and item.dedupe_key
