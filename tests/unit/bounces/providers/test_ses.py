"""SES notifications as feedback: Permanent is hard, Transient soft, a complaint a complaint."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.providers.common import Malformed
from syndicator.bounces.providers.ses import feedback_of
from syndicator.bounces.verp import make_tag
from tests.unit.bounces.providers.samples import SES_BOUNCE, SES_COMPLAINT, SETTINGS
from tests.unit.bounces.providers.strategies import json_values, mutations


def test_the_documented_bounce_is_a_hard_bounce_with_its_evidence() -> None:
    [feedback] = feedback_of(json.dumps(SES_BOUNCE), SETTINGS)
    assert feedback == Feedback(
        kind="hard_bounce",
        source="ses",
        recipient="jane@example.com",
        verp_tag=None,
        status="5.1.1",
        diagnostic="smtp; 550 5.1.1 <jane@example.com>... User",
        answered_message_id="custom-message-ID",
        evidence=feedback.evidence,
        dedupe_key="ses:00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000:jane@example.com",
    )
    kept = json.loads(feedback.evidence or "")
    assert kept["bounce"]["bounceType"] == "Permanent" and "headers" not in kept["mail"]


def test_a_transient_bounce_is_soft_and_each_recipient_counts() -> None:
    notification = copy.deepcopy(SES_BOUNCE)
    notification["bounce"]["bounceType"] = "Transient"
    notification["bounce"]["bouncedRecipients"].append(
        {"emailAddress": "mary@example.com", "diagnosticCode": "smtp; 452 4.2.2 mailbox full"}
    )
    tag = make_tag(SETTINGS, 7, 42)
    notification["mail"]["source"] = f"Bounces+{tag}@News.Example.kr"
    found = feedback_of(json.dumps(notification), SETTINGS)
    assert [f.kind for f in found if isinstance(f, Feedback)] == ["soft_bounce", "soft_bounce"]
    assert [f.status for f in found if isinstance(f, Feedback)] == ["5.1.1", "4.2.2"]
    assert {f.verp_tag for f in found if isinstance(f, Feedback)} == {tag}
    assert len({f.dedupe_key for f in found if isinstance(f, Feedback)}) == 2


def test_a_plus_address_not_ours_is_no_tag() -> None:
    notification = copy.deepcopy(SES_BOUNCE)
    notification["mail"]["source"] = "john+news@example.com"
    [feedback] = feedback_of(json.dumps(notification), SETTINGS)
    assert isinstance(feedback, Feedback) and feedback.verp_tag is None


def test_event_publishing_says_event_type_instead() -> None:
    notification = {
        ("eventType" if k == "notificationType" else k): v for k, v in SES_BOUNCE.items()
    }
    [feedback] = feedback_of(json.dumps(notification), SETTINGS)
    assert isinstance(feedback, Feedback) and feedback.kind == "hard_bounce"


def test_the_documented_complaint_is_a_complaint() -> None:
    [feedback] = feedback_of(json.dumps(SES_COMPLAINT), SETTINGS)
    assert isinstance(feedback, Feedback)
    assert (feedback.kind, feedback.recipient, feedback.diagnostic) == (
        "complaint",
        "richard@example.com",
        "abuse",
    )
    assert feedback.dedupe_key and feedback.dedupe_key.startswith("ses:000001378603177f-18c07c78")


def test_an_address_ses_suppressed_itself_is_not_a_complaint() -> None:
    notification = copy.deepcopy(SES_COMPLAINT)
    notification["complaint"]["complaintSubType"] = "OnAccountSuppressionList"
    assert feedback_of(json.dumps(notification), SETTINGS) == [
        Ignored("SES refused an address on the account's suppression list")
    ]


def test_deliveries_are_ignored() -> None:
    [ignored] = feedback_of(json.dumps({"notificationType": "Delivery", "mail": {}}), SETTINGS)
    assert isinstance(ignored, Ignored)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda n: n["bounce"].pop("bounceType"), "bounce.bounceType"),
        (lambda n: n["bounce"].update(bounceType="Sideways"), "bounce.bounceType"),
        (lambda n: n["bounce"].pop("feedbackId"), "bounce.feedbackId"),
        (lambda n: n["bounce"].update(bouncedRecipients={}), "bounce.bouncedRecipients"),
        (
            lambda n: n["bounce"]["bouncedRecipients"][0].pop("emailAddress"),
            "bounce.bouncedRecipients.0.emailAddress",
        ),
    ],
)
def test_a_malformed_bounce_names_its_field(change: Any, field: str) -> None:
    notification = copy.deepcopy(SES_BOUNCE)
    change(notification)
    with pytest.raises(Malformed) as refused:
        feedback_of(json.dumps(notification), SETTINGS)
    assert refused.value.field == field


@settings(max_examples=150, deadline=None)
@given(st.one_of(mutations(SES_BOUNCE), mutations(SES_COMPLAINT), json_values))
def test_any_notification_maps_or_is_refused_naming_a_field(notification: Any) -> None:
    try:
        found = feedback_of(json.dumps(notification), SETTINGS)
    except Malformed as refused:
        assert refused.field
        return
    for item in found:
        assert isinstance(item, (Feedback, Ignored))
        if isinstance(item, Feedback):
            assert item.recipient and "@" in item.recipient and item.dedupe_key
