"""Which partners an event goes to (pure filter)."""

from __future__ import annotations

import pytest

from syndicator.partners.directory import partner_id, receives

RELEASE = {"department": "위생정책과", "categories": ["경제", "보건"]}


@pytest.mark.parametrize(
    ("event_types", "departments", "categories", "expected"),
    [
        (None, [], [], True),
        (["release.published"], [], [], True),
        (["release.updated"], [], [], False),
        ([], [], [], False),  # an empty list of types takes none
        (None, ["위생정책과"], [], True),
        (None, ["관광과"], [], False),
        (None, [], ["보건", "문화"], True),
        (None, [], ["문화"], False),
        (None, ["위생정책과"], ["문화"], False),
    ],
)
def test_filters(event_types, departments, categories, expected):
    assert receives("release.published", RELEASE, event_types, departments, categories) is expected


def test_partner_targets():
    assert partner_id("partner:42") == 42
