"""Targets are opaque references: personal data can never become a ledger key."""

from __future__ import annotations

import pytest

from syndicator.ledger.targets import TARGET_REF, InvalidTarget, check_targets


@pytest.mark.parametrize(
    "target", ["site", "subscriber:1234", "partner:7", "mx:mail.example.kr", "list:a_b-c.d"]
)
def test_references_are_accepted(target: str):
    check_targets("newsletter", [target], TARGET_REF)


@pytest.mark.parametrize(
    "target",
    [
        "kim.minsu@example.kr",
        "subscriber:kim.minsu@example.kr",
        "김민수",
        "subscriber:김민수",
        "https://partner.example/hook?token=s3cret",
        "subscriber:1234\n",
        "Subscriber:1",
        "subscriber:",
        "subscriber:" + "9" * 65,
        "",
    ],
)
def test_anything_else_is_refused_without_repeating_it(target: str):
    with pytest.raises(InvalidTarget) as refused:
        check_targets("newsletter", ["site", target], TARGET_REF)
    message = str(refused.value)
    assert "#1" in message and "newsletter" in message
    # The message depends on the target's position and length, never on its content.
    with pytest.raises(InvalidTarget) as other:
        check_targets("newsletter", ["site", "@" * len(target)], TARGET_REF)
    assert message == str(other.value)
