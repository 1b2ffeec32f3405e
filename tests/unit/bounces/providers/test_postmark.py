"""Postmark: basic-auth credentials (and optionally its addresses), and its bounce types."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.providers.common import Malformed, Unverified
from syndicator.bounces.providers.postmark import check_credentials, check_origin, feedback_of
from tests.unit.bounces.providers.samples import POSTMARK_BOUNCE, POSTMARK_SPAM_COMPLAINT
from tests.unit.bounces.providers.strategies import json_values, mutations

CREDENTIALS = "postmark:s3cret-파스워드"


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_the_configured_credentials_pass() -> None:
    check_credentials(basic(CREDENTIALS), CREDENTIALS)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        basic("postmark:wrong"),
        basic("postmark:"),
        "Bearer x",
        "Basic %%%",
        basic(CREDENTIALS + "x"),
    ],
)
def test_anything_else_is_unverified(header: str | None) -> None:
    with pytest.raises(Unverified) as refused:
        check_credentials(header, CREDENTIALS)
    assert refused.value.field == "authorization"


def test_the_address_allowlist_applies_only_when_set() -> None:
    check_origin("203.0.113.9", ())
    check_origin("50.31.156.6", ("50.31.156.0/24",))
    for client in ("203.0.113.9", None, "nonsense"):
        with pytest.raises(Unverified):
            check_origin(client, ("50.31.156.0/24",))


def test_the_documented_hard_bounce() -> None:
    [feedback] = feedback_of(POSTMARK_BOUNCE)
    assert isinstance(feedback, Feedback)
    assert (feedback.kind, feedback.source, feedback.recipient) == (
        "hard_bounce",
        "postmark",
        "john@example.com",
    )
    assert feedback.diagnostic == "Test bounce details"
    assert feedback.dedupe_key == "postmark:4323372036854775807"
    assert feedback.evidence and "883953f4-6105-42a2-a16a-77a8eac79483" in feedback.evidence
    assert "Full dump" not in feedback.evidence  # the raw dump stays at Postmark


def test_the_documented_spam_complaint() -> None:
    [feedback] = feedback_of(POSTMARK_SPAM_COMPLAINT)
    assert isinstance(feedback, Feedback) and feedback.kind == "complaint"
    assert feedback.dedupe_key == "postmark:42"


@pytest.mark.parametrize(
    ("bounce_type", "kind"),
    [
        ("SoftBounce", "soft_bounce"),
        ("Transient", "soft_bounce"),
        ("DnsError", "soft_bounce"),
        ("BadEmailAddress", "hard_bounce"),
        ("AutoResponder", None),
        ("Blocked", None),
        ("DMARCPolicy", None),
        ("ChallengeVerification", None),
    ],
)
def test_bounce_types(bounce_type: str, kind: str | None) -> None:
    [item] = feedback_of({**POSTMARK_BOUNCE, "Type": bounce_type, "Details": "smtp;452 4.2.2 full"})
    if kind is None:
        assert isinstance(item, Ignored)
    else:
        assert isinstance(item, Feedback) and item.kind == kind and item.status == "4.2.2"


def test_delivery_webhooks_are_ignored() -> None:
    assert feedback_of({"RecordType": "Delivery", "MessageID": "x"}) == [
        Ignored("Postmark Delivery webhook")
    ]


@pytest.mark.parametrize("field", ["Email", "ID", "Type", "RecordType"])
def test_a_missing_field_is_named(field: str) -> None:
    payload = copy.deepcopy(POSTMARK_BOUNCE)
    del payload[field]
    with pytest.raises(Malformed) as refused:
        feedback_of(payload)
    assert refused.value.field == field


@settings(max_examples=150, deadline=None)
@given(st.one_of(mutations(POSTMARK_BOUNCE), mutations(POSTMARK_SPAM_COMPLAINT), json_values))
def test_any_payload_maps_or_is_refused_naming_a_field(payload: Any) -> None:
    try:
        found = feedback_of(payload)
    except Malformed as refused:
        assert refused.field
        return
    for item in found:
        assert isinstance(item, (Feedback, Ignored))
        if isinstance(item, Feedback):
            assert "@" in (item.recipient or "") and item.dedupe_key
