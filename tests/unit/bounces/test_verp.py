"""VERP tags: they name what they were made for, survive case folding, and a forged,
damaged or unknown-key tag names nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from syndicator.bounces import verp
from syndicator.config import Settings, load_settings
from syndicator.subscriptions.tokens import TokenKeysMissing


@pytest.fixture
def bounce_settings() -> Settings:
    return _settings()


ids = st.integers(min_value=0, max_value=2**53)


@hsettings(max_examples=60)
@given(delivery=ids, subscriber=ids)
def test_a_tag_names_what_it_was_made_for(delivery: int, subscriber: int) -> None:
    settings = _settings()
    tag = verp.make_tag(settings, delivery, subscriber)
    assert verp.read_tag(settings, tag) == verp.VerpIds(delivery, subscriber)
    # Servers that fold the address's case bounce to the same delivery.
    assert verp.read_tag(settings, tag.upper()) == verp.VerpIds(delivery, subscriber)


@hsettings(max_examples=60)
@given(delivery=ids, subscriber=ids, position=st.integers(min_value=0), data=st.data())
def test_any_changed_character_is_refused(
    delivery: int, subscriber: int, position: int, data: st.DataObject
) -> None:
    settings = _settings()
    tag = verp.make_tag(settings, delivery, subscriber)
    at = position % len(tag)
    other = data.draw(
        st.sampled_from("0123456789abcdefghijklmnopqrstuvwxyz-").filter(lambda c: c != tag[at])
    )
    assert verp.read_tag(settings, tag[:at] + other + tag[at + 1 :]) is None


def test_another_subscriber_cannot_be_named_with_a_valid_mac(bounce_settings: Settings) -> None:
    tag = verp.make_tag(bounce_settings, 10, 20)
    delivery, _, mac = tag.split("-")
    assert verp.read_tag(bounce_settings, f"{delivery}-15-{mac}") is None
    assert verp.read_tag(bounce_settings, f"{delivery}-014-{mac}") is None  # leading zero


def test_a_rotated_out_key_still_reads_until_it_is_dropped(bounce_settings: Settings) -> None:
    old = bounce_settings.with_(token_keys=("old-key",))
    tag = verp.make_tag(old, 7, 8)
    rotated = bounce_settings.with_(token_keys=("new-key", "old-key"))
    assert verp.read_tag(rotated, tag) == verp.VerpIds(7, 8)
    assert verp.make_tag(rotated, 7, 8) != tag  # the newest key signs
    assert verp.read_tag(bounce_settings.with_(token_keys=("new-key",)), tag) is None


def test_the_envelope_sender_carries_the_tag(bounce_settings: Settings) -> None:
    sender = verp.envelope_sender(bounce_settings, 5, 6)
    assert sender is not None
    local, _, domain = sender.partition("@")
    assert domain == "news.example.kr" and local.startswith("bounces+")
    assert len(local) <= 64  # RFC 5321's limit on a local part
    tag = verp.tag_of_address(bounce_settings, f"<{sender.upper()}>")
    assert tag is not None and verp.read_tag(bounce_settings, tag) == verp.VerpIds(5, 6)


def test_other_addresses_carry_no_tag(bounce_settings: Settings) -> None:
    assert verp.tag_of_address(bounce_settings, "bounces@news.example.kr") is None
    assert verp.tag_of_address(bounce_settings, "bounces+x@elsewhere.example") is None
    assert verp.tag_of_address(bounce_settings, "someone+x@news.example.kr") is None
    assert verp.tag_of_address(bounce_settings, "not an address") is None


def test_without_a_bounce_address_nothing_changes(bounce_settings: Settings) -> None:
    settings = bounce_settings.with_(bounce_address=None)
    assert verp.envelope_sender(settings, 5, 6) is None
    assert verp.tag_of_address(settings, "bounces+abc@news.example.kr") is None


def test_a_bounce_address_without_keys_is_a_configuration_error(
    bounce_settings: Settings,
) -> None:
    with pytest.raises(TokenKeysMissing):
        verp.envelope_sender(bounce_settings.with_(token_keys=()), 1, 2)


def _settings() -> Settings:
    return load_settings(
        {
            "SYNDICATOR_DATA_DIR": "/nonexistent",
            "SYNDICATOR_TOKEN_KEYS": "k-new k-old",
            "SYNDICATOR_BOUNCE_ADDRESS": "bounces@news.example.kr",
        }
    )
