"""The subscription pages' pure renders, read back with an HTML parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import html as lxml_html

from syndicator.config import load_settings
from syndicator.subscriptions.preferences import MODES, Preferences
from syndicator.web.subscriptions.render import (
    FIELD_MESSAGES,
    Button,
    Link,
    SubscribeForm,
    render_message,
    render_preferences,
    render_subscribe,
)

SETTINGS = load_settings(
    {
        "SYNDICATOR_DATA_DIR": str(Path("/nonexistent-unit-data")),
        "SYNDICATOR_BASE_URL": "https://press.example.kr",
        "SYNDICATOR_TOKEN_KEYS": "unit-key",
    }
)
_NAMES = st.text(st.characters(categories=["Lo", "Ll"]), min_size=1, max_size=8)


def _checked(page: str, name: str) -> set[str]:
    tree = lxml_html.fromstring(page)
    return set(tree.xpath(f'//input[@name="{name}" and @checked]/@value'))


def _offered(page: str, name: str) -> list[str]:
    return lxml_html.fromstring(page).xpath(f'//input[@name="{name}"]/@value')


@given(
    known=st.lists(_NAMES, max_size=5, unique=True),
    followed=st.lists(_NAMES, max_size=5, unique=True),
    mode=st.sampled_from(MODES),
)
def test_preferences_offer_every_known_topic_and_keep_every_followed_one(known, followed, mode):
    prefs = Preferences(mode=mode, categories=tuple(followed))
    page = render_preferences(SETTINGS, "/preferences/t", prefs, "active", known, [])
    assert _offered(page, "categories") == sorted(set(known) | set(followed))
    assert _checked(page, "categories") == set(followed)
    assert _checked(page, "mode") == {mode}


@pytest.mark.parametrize(
    ("status", "label", "can_leave"),
    [
        ("active", "저장", True),
        ("pending", "저장하고 받기", True),
        ("unsubscribed", "저장하고 받기", False),
    ],
)
def test_the_preferences_form_says_what_saving_does(status, label, can_leave):
    page = render_preferences(SETTINGS, "/preferences/t", Preferences(), status, [], [])
    tree = lxml_html.fromstring(page)
    assert tree.xpath('//input[@name="action" and @value="save"]/../button/text()') == [label]
    assert bool(tree.xpath('//input[@name="action" and @value="unsubscribe"]')) is can_leave


def test_a_message_page_posts_its_button_back_and_lists_its_links():
    page = render_message(
        SETTINGS,
        "구독 해지",
        ["아래 단추를 눌러 주세요."],
        button=Button(action="/unsubscribe/t", label="구독 해지"),
        links=[Link("https://press.example.kr/", "처음으로")],
    )
    tree = lxml_html.fromstring(page)
    assert tree.xpath("//h1/text()") == ["구독 해지"]
    assert tree.xpath('//form[@method="post"]/@action') == ["/unsubscribe/t"]
    assert "처음으로" in tree.xpath("//li/a/text()")


def test_the_form_lists_its_errors_in_the_page_order_and_keeps_what_was_sent():
    form = SubscribeForm(email="not-an-address", mode="daily").with_errors(
        {"categories": FIELD_MESSAGES["categories"], "email": FIELD_MESSAGES["email_invalid"]}
    )
    page = render_subscribe(SETTINGS, form, ["위생정책과"], ["교통"], "csrf-token")
    tree = lxml_html.fromstring(page)
    summary = tree.xpath('//div[@class="error-summary"]//li/a/text()')
    assert summary == [FIELD_MESSAGES["email_invalid"], FIELD_MESSAGES["categories"]]
    assert tree.xpath('//input[@name="email"]/@value') == ["not-an-address"]
    assert tree.xpath('//input[@name="email"]/@aria-invalid') == ["true"]
    assert _checked(page, "mode") == {"daily"}
